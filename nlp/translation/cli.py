"""``dlsuite nlp translate train|evaluate|predict|export`` (added to ``dlsuite nlp`` by ``nlp.cli``)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from nlp import cli as nlp_cli  # module import: nlp.cli may import this module while loading
from nlp.translation import DECODING_METHODS, Translator
from nlp.translation.data import (
    ParallelText,
    load_parallel_files,
    load_parallel_tsv,
    load_tfds_parallel,
    make_synthetic_translation,
)

DATA_HELP = (
    "parallel text: 'SOURCE_FILE,TARGET_FILE' (line-aligned, plain or .gz), a TSV file of "
    "source<TAB>target pairs, 'tfds:NAME[:SPLIT]' (wmt14_translate/de-en, ted_hrlr_translate/pt_to_en) "
    "or 'builtin:synthetic' (template English -> pseudo-German, for trying things out)"
)


def resolve_parallel_data(spec: str, part: str, args: argparse.Namespace) -> ParallelText:
    """A data spec -> ``ParallelText``; the built-in set uses seed 0 for train and 1 otherwise."""
    if spec == "builtin:synthetic":
        return make_synthetic_translation(
            2000 if part == "train" else 200, seed=0 if part == "train" else 1
        )
    if spec.startswith("builtin:"):
        raise ValueError(f"unknown built-in dataset {spec!r}; choose builtin:synthetic")
    if spec.startswith("tfds:"):
        name, _, split = spec.removeprefix("tfds:").partition(":")
        return load_tfds_parallel(
            name,
            split or ("train" if part == "train" else "validation"),
            getattr(args, "data_dir", None),
            getattr(args, "source_language", None),
            getattr(args, "target_language", None),
        )
    if "," in spec:
        source, target = spec.split(",", 1)
        return load_parallel_files(source, target)
    return load_parallel_tsv(spec)


def _decoding(args: argparse.Namespace) -> dict[str, Any]:
    return {"decoding": args.decoding, "beam_size": args.beam_size, "max_length": args.max_length}


def _train(args: argparse.Namespace) -> int:
    output = nlp_cli._check_output(args)
    train = resolve_parallel_data(args.data, "train", args)
    val = (
        resolve_parallel_data(args.val_data or args.data, "val", args)
        if (args.val_data or args.data.startswith("builtin:"))
        else None
    )
    options = dict(
        source_language=train.source_language,
        target_language=train.target_language,
        shared_vocabulary=not args.separate_vocabularies,
        vocabulary_size=args.vocabulary_size,
        embed_dim=args.embed_dim,
        encoder_layers=args.layers,
        decoder_layers=args.layers,
        num_heads=args.num_heads,
        intermediate_dim=args.intermediate_dim,
        max_source_length=args.max_tokens,
        max_target_length=args.max_tokens,
        batch_size=args.batch_size,
    )
    if args.learning_rate:
        options["learning_rate"] = args.learning_rate
    task = Translator(**options)
    nlp_cli._fit(task, train, val, args)
    task.save(output)
    print(f"saved {output}")
    if val is not None:
        report = task.evaluate(val, decoding="greedy")
        print(f"validation BLEU {report['bleu']:.2f}, chrF {report['chrf']:.2f} (greedy)")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    task = nlp_cli._load(args.model, Translator)
    report = task.evaluate(
        resolve_parallel_data(args.data, "val", args), samples=args.samples, **_decoding(args)
    )
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


def _predict(args: argparse.Namespace) -> int:
    task = nlp_cli._load(args.model, Translator)
    for text, result in zip(
        args.texts, task.predict(list(args.texts), **_decoding(args)), strict=True
    ):
        print(json.dumps({"text": text, **result}, ensure_ascii=False))
    return 0


def _export(args: argparse.Namespace) -> int:
    task = nlp_cli._load(args.model, Translator)
    print(f"exported {task.export(args.output, version=args.version, **_decoding(args))}")
    return 0


def _decoding_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--decoding", choices=DECODING_METHODS, help="default: the model's (beam)")
    parser.add_argument("--beam-size", type=int, help="default: the model's (4)")
    parser.add_argument("--max-length", type=int, help="most target tokens to generate")


def _data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", help="TFDS data_dir for tfds: names")
    parser.add_argument(
        "--source-language", help="tfds: source language key (default: the dataset's)"
    )
    parser.add_argument("--target-language", help="tfds: target language key")


def add_commands(tasks: argparse._SubParsersAction) -> None:
    """Add the ``translate`` task and its actions to the ``dlsuite nlp`` task sub-parsers."""
    translate = tasks.add_parser(
        "translate", help="machine translation (transformer encoder-decoder)"
    )
    actions = translate.add_subparsers(dest="action", metavar="ACTION", required=True)

    train = actions.add_parser("train", help="train a translator and save it as .keras")
    nlp_cli._common_train_options(train, DATA_HELP)
    _data_options(train)
    train.add_argument(
        "--vocabulary-size", type=int, default=8000, help="WordPiece pieces per vocabulary"
    )
    train.add_argument(
        "--separate-vocabularies", action="store_true", help="one vocabulary per language"
    )
    train.add_argument("--embed-dim", type=int, default=256)
    train.add_argument("--layers", type=int, default=3, help="encoder layers = decoder layers")
    train.add_argument("--num-heads", type=int, default=4)
    train.add_argument("--intermediate-dim", type=int, default=1024)
    train.add_argument(
        "--max-tokens", type=int, default=64, help="longest source / target in tokens"
    )
    train.set_defaults(func=_train, epochs=10, batch_size=64)

    evaluate = actions.add_parser(
        "evaluate", help="BLEU and chrF (sacrebleu) plus sample translations"
    )
    evaluate.add_argument("--model", required=True)
    evaluate.add_argument("--data", required=True, help=DATA_HELP)
    evaluate.add_argument("--samples", type=int, default=5, help="sample translations to show")
    _data_options(evaluate)
    _decoding_options(evaluate)
    evaluate.set_defaults(func=_evaluate)

    predict = actions.add_parser("predict", help="translate texts, one JSON line per text")
    predict.add_argument("--model", required=True)
    predict.add_argument("texts", nargs="+")
    _decoding_options(predict)
    predict.set_defaults(func=_predict)

    export = actions.add_parser(
        "export", help="write a TF Serving SavedModel version (text in, translation out)"
    )
    export.add_argument("--model", required=True)
    export.add_argument(
        "--output", required=True, help="model base folder, e.g. models/translation"
    )
    export.add_argument("--version", type=int)
    _decoding_options(export)
    export.set_defaults(func=_export)
