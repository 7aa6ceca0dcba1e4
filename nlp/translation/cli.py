"""``dlsuite nlp translate train|evaluate|predict|export`` (added to ``dlsuite nlp``).

Built on ``common.task_cli`` (imports nothing from ``nlp.cli``). ``--layers`` and
``--max-tokens`` are shortcuts that set the encoder and decoder (source and target) options
together; ``--encoder-layers``, ``--max-source-length``, ... set one side.
"""

from __future__ import annotations

import argparse
from typing import Any

from common import task_cli as cli
from common.task_cli_commands import (
    add_evaluate_command,
    add_export_command,
    add_predict_command,
)

TASK = "nlp.translation:Translator"
DECODING_METHODS = ("greedy", "beam")  # nlp.translation.DECODING_METHODS (tested equal)
DATA_HELP = (
    "parallel text: 'SOURCE_FILE,TARGET_FILE' (line-aligned, plain or .gz), a TSV file of "
    "source<TAB>target pairs, 'tfds:NAME[:SPLIT]' (wmt14_translate/de-en, "
    "ted_hrlr_translate/pt_to_en) or 'builtin:synthetic' (template English -> pseudo-German)"
)


def resolve_parallel_data(spec: str, part: str, args: argparse.Namespace) -> Any:
    """A data spec -> ``ParallelText``; the built-in set uses seed 0 for train and 1 otherwise."""
    from nlp.translation import data as data_lib

    data = cli.parse_data_spec(spec, ("synthetic",))
    if data.kind == "builtin":
        return data_lib.make_synthetic_translation(
            2000 if part == "train" else 200, seed=0 if part == "train" else 1
        )
    if data.kind == "tfds":
        return data_lib.load_tfds_parallel(
            data.name,
            data.arg or ("train" if part == "train" else "validation"),
            getattr(args, "data_dir", None),
            getattr(args, "source_language", None),
            getattr(args, "target_language", None),
        )
    if "," in spec:
        source, target = spec.split(",", 1)
        return data_lib.load_parallel_files(source, target)
    return data_lib.load_parallel_tsv(spec)


def _decoding(args: argparse.Namespace) -> dict[str, Any]:
    return {"decoding": args.decoding, "beam_size": args.beam_size, "max_length": args.max_length}


def translator_options(args: argparse.Namespace, config_class: type) -> dict[str, Any]:
    """Config options from the flags; ``--layers``/``--max-tokens`` fill both sides unless
    ``--encoder-layers``, ``--max-source-length``, ... name one side."""
    options = cli.config_options(args, config_class)
    if args.layers is not None:
        options.setdefault("encoder_layers", args.layers)
        options.setdefault("decoder_layers", args.layers)
    if args.max_tokens is not None:
        options.setdefault("max_source_length", args.max_tokens)
        options.setdefault("max_target_length", args.max_tokens)
    return options


def _train(args: argparse.Namespace) -> int:
    from nlp.translation import Translator

    output = cli.start_training(args)
    train = resolve_parallel_data(args.data, "train", args)
    val_spec = cli.validation_spec(args)
    val = resolve_parallel_data(val_spec, "val", args) if val_spec else None
    options = translator_options(args, Translator.config_class)
    options.update(source_language=train.source_language, target_language=train.target_language)
    task = Translator(**options)
    cli.fit(task, args, train, val)
    cli.save(task, output)
    if val is not None:
        report = task.evaluate(val, decoding="greedy")
        print(f"validation BLEU {report['bleu']:.2f}, chrF {report['chrf']:.2f} (greedy)")
    return 0


def _data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--source-language", help="tfds: source language key (default: the dataset's)"
    )
    parser.add_argument("--target-language", help="tfds: target language key")


def _decoding_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--decoding", choices=DECODING_METHODS, help="decoding method (default: the model's)"
    )
    parser.add_argument("--beam-size", type=int, help="beam width (default: the model's)")
    parser.add_argument("--max-length", type=int, help="most target tokens to generate")


def _build_train(parser: argparse.ArgumentParser) -> None:
    from nlp.translation import Translator

    cli.add_train_options(parser, DATA_HELP, epochs=10)
    _data_options(parser)
    cli.add_config_options(
        parser,
        Translator.config_class,
        skip=("source_language", "target_language"),  # from the data (or --source-language)
        help={
            "shared_vocabulary": "one WordPiece vocabulary for both languages",
            "vocabulary_size": "WordPiece pieces per vocabulary",
            "decoding": "default decoding of predict / export",
        },
        choices={"decoding": DECODING_METHODS},
    )
    parser.add_argument(
        "--layers", type=int, help="encoder layers = decoder layers (sets both; default: 3)"
    )
    parser.add_argument(
        "--max-tokens", type=int, help="longest source and target in tokens (sets both)"
    )
    parser.add_argument(
        "--separate-vocabularies",
        dest="shared_vocabulary",
        action="store_false",
        default=argparse.SUPPRESS,
        help="same as --no-shared-vocabulary: one vocabulary per language",
    )


def _evaluate_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--samples", type=int, default=5, help="sample translations to show")
    _data_options(parser)
    _decoding_options(parser)


def _describe(text: str, result: dict[str, Any]) -> str:
    return f"{text!r}: {result['translation']!r} (score {result['score']:.3f})"


def add_commands(tasks: argparse._SubParsersAction) -> None:
    """Add the ``translate`` task and its actions to the ``dlsuite nlp`` task sub-parsers."""
    _, actions = cli.add_group(
        tasks, "translate", "machine translation (transformer encoder-decoder)", "action"
    )
    actions.add_parser(
        "train",
        help="train a translator and save it as .keras",
        description="train a translator and save it as .keras",
        builder=_build_train,
    ).set_defaults(func=_train)
    add_evaluate_command(
        actions,
        TASK,
        data_help=DATA_HELP,
        resolve=lambda args, task: resolve_parallel_data(args.data, "val", args),
        help="BLEU and chrF (sacrebleu) plus sample translations",
        details=(),
        parts=None,
        options=_evaluate_options,
        evaluate_kwargs=lambda args: {"samples": args.samples, **_decoding(args)},
    )
    add_predict_command(
        actions,
        TASK,
        help="translate texts",
        describe=_describe,
        inputs_help="texts to translate",
        input_key="text",
        options=_decoding_options,
        predict=lambda task, texts, args: task.predict(texts, **_decoding(args)),
    )
    add_export_command(
        actions,
        TASK,
        example="models/translation",
        help="write a TF Serving SavedModel version (text in, translation out)",
        options=_decoding_options,
        export_kwargs=_decoding,
    )
