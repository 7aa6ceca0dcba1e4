"""``dlsuite nlp translate train|evaluate|predict|export`` (added to ``dlsuite nlp``).

Built on ``common.task_cli`` (imports nothing from ``nlp.cli``). ``--layers`` and
``--max-tokens`` are shortcuts that set the encoder and decoder (source and target) options
together; ``--encoder-layers``, ``--max-source-length``, ... set one side.
"""

from __future__ import annotations

import argparse
from typing import Any

from common import task_cli as cli
from common.task_cli_spec import TaskCommands, TrainCommand, add_task_commands

TASK = "nlp.translation:Translator"
DECODING_METHODS = ("greedy", "beam")  # nlp.translation.DECODING_METHODS (tested equal)
DATA_HELP = (
    "parallel text: 'SOURCE_FILE,TARGET_FILE' (line-aligned, plain or .gz), a TSV file of "
    "source<TAB>target pairs, 'tfds:NAME[:SPLIT]', any TFDS translation set (e.g. "
    "wmt14_translate/de-en, ted_hrlr_translate/pt_to_en; missing sets are downloaded when online "
    "unless --no-download) or 'builtin:synthetic' (template English -> pseudo-German)"
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
    train, val = cli.load_train_val(
        args, lambda spec, part: resolve_parallel_data(spec, part, args)
    )
    options = translator_options(args, Translator.config_class)
    options.update(source_language=train.source_language, target_language=train.target_language)
    task = Translator(**options)
    summary = "validation BLEU {bleu:.2f}, chrF {chrf:.2f} (greedy)"
    return cli.finish_training(
        task, args, output, train, val, summary, evaluate_options={"decoding": "greedy"}
    )


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


def _train_options(parser: argparse.ArgumentParser) -> None:
    _data_options(parser)
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


TRANSLATE = TaskCommands(
    "translate",
    "machine translation (transformer encoder-decoder)",
    TASK,
    noun="translator",
    train=TrainCommand(
        _train,
        DATA_HELP,
        options=_train_options,
        skip=("source_language", "target_language"),  # from the data (or --source-language)
        config_help={
            "shared_vocabulary": "one WordPiece vocabulary for both languages",
            "vocabulary_size": "WordPiece pieces per vocabulary",
            "decoding": "default decoding of predict / export",
        },
        choices={"decoding": DECODING_METHODS},
    ),
    evaluate={
        "resolve": lambda args, task: resolve_parallel_data(args.data, "val", args),
        "help": "BLEU and chrF (sacrebleu) plus sample translations",
        "details": (),
        "parts": None,
        "options": _evaluate_options,
        "evaluate_kwargs": lambda args: {"samples": args.samples, **_decoding(args)},
    },
    predict={
        "help": "translate texts",
        "describe": _describe,
        "inputs_help": "texts to translate",
        "input_key": "text",
        "options": _decoding_options,
        "predict": lambda task, texts, args: task.predict(texts, **_decoding(args)),
    },
    export={
        "example": "models/translation",
        "help": "write a TF Serving SavedModel version (text in, translation out)",
        "options": _decoding_options,
        "export_kwargs": _decoding,
    },
)


def add_commands(tasks: argparse._SubParsersAction) -> None:
    """Add the ``translate`` task and its actions to the ``dlsuite nlp`` task sub-parsers."""
    add_task_commands(tasks, TRANSLATE)
