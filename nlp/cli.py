"""``dlsuite nlp classify|ner|translate|qa train|evaluate|predict|export`` (registered through an entry point)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from common.task import load_task
from nlp import data as data_lib
from nlp.classification.task import TextClassifier
from nlp.ner import EntityTagger

CLASSIFY_DATA_HELP = (
    "a CSV/TSV file (see --text-column/--label-column), a folder with one sub-folder of .txt files "
    "per class, 'builtin:sentiment', 'builtin:topics' or 'tfds:NAME[:SPLIT]' "
    "(imdb_reviews, ag_news_subset, glue/sst2)"
)
NER_DATA_HELP = (
    "a CoNLL file (token ... tag per line, blank line between sentences) or 'builtin:ner'"
)


def resolve_text_data(args: argparse.Namespace, spec: str, part: str) -> data_lib.TextData:
    """A data spec -> ``TextData``; built-in sets use fixed seeds (train 0, validation 1)."""
    seed, size = (0, 400) if part == "train" else (1, 100)
    if spec == "builtin:sentiment":
        return data_lib.make_sentiment(size, seed=seed)
    if spec == "builtin:topics":
        return data_lib.make_topics(
            size, seed=seed, multi_label=getattr(args, "multi_label", False)
        )
    if spec.startswith("builtin:"):
        raise ValueError(
            f"unknown built-in dataset {spec!r}; choose builtin:sentiment or builtin:topics"
        )
    if spec.startswith("tfds:"):
        name, _, split = spec.removeprefix("tfds:").partition(":")
        default_split = "validation" if name == "glue/sst2" else "test"
        return data_lib.load_tfds_text(
            name, split or ("train" if part == "train" else default_split), args.data_dir
        )
    path = Path(spec)
    if path.is_dir():
        return data_lib.load_text_folder(path)
    if path.is_file():
        return data_lib.load_text_csv(
            path,
            args.text_column,
            args.label_column,
            label_separator="|" if getattr(args, "multi_label", False) else None,
        )
    raise ValueError(
        f"data {spec!r} is not a file, a folder or a builtin:/tfds: name ({CLASSIFY_DATA_HELP})"
    )


def resolve_tagged_data(spec: str, part: str) -> data_lib.TaggedSentences:
    if spec == "builtin:ner":
        return data_lib.make_ner(400 if part == "train" else 100, seed=0 if part == "train" else 1)
    if spec.startswith("builtin:"):
        raise ValueError(f"unknown built-in dataset {spec!r}; choose builtin:ner")
    return data_lib.read_conll(spec)


def _check_output(args: argparse.Namespace) -> Path:
    output = Path(args.output)
    if output.exists() and not args.overwrite:
        raise FileExistsError(f"{output} exists; pass --overwrite to replace it")
    return output


def _fit(task: Any, data: Any, val: Any, args: argparse.Namespace) -> None:
    task.fit(
        data,
        validation_data=val,
        epochs=args.epochs,
        work_dir=args.work_dir,
        resume=args.resume,
        patience=args.patience,
        strategy=args.strategy,
        verbose=2,
    )


def _classify_train(args: argparse.Namespace) -> int:
    output = _check_output(args)
    train = resolve_text_data(args, args.data, "train")
    val = (
        resolve_text_data(args, args.val_data or args.data, "val")
        if (args.val_data or args.data.startswith("builtin:"))
        else None
    )
    task = TextClassifier(
        classes=args.classes.split(",") if args.classes else train.class_names,
        multi_label=args.multi_label,
        preset=args.preset,
        sequence_length=args.sequence_length,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
    )
    _fit(task, train, val, args)
    task.save(output)
    print(f"saved {output}")
    if val is not None:
        report = task.evaluate(val)
        key = "subset_accuracy" if args.multi_label else "accuracy"
        print(f"validation {key} {report[key]:.4f}, macro-F1 {report['macro_f1']:.4f}")
    return 0


def _ner_train(args: argparse.Namespace) -> int:
    output = _check_output(args)
    train = resolve_tagged_data(args.data, "train")
    val = (
        resolve_tagged_data(args.val_data or args.data, "val")
        if (args.val_data or args.data.startswith("builtin:"))
        else None
    )
    task = EntityTagger(
        entity_types=args.entity_types.split(",") if args.entity_types else train.entity_types,
        preset=args.preset,
        max_words=args.max_words,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
    )
    _fit(task, train, val, args)
    task.save(output)
    print(f"saved {output}")
    if val is not None:
        report = task.evaluate(val)
        print(
            f"validation entity F1 {report['f1']:.4f} (P {report['precision']:.4f}, R {report['recall']:.4f})"
        )
    return 0


def _load(path: str, cls: type) -> Any:
    task = load_task(path)
    if not isinstance(task, cls):
        raise ValueError(f"{path} holds a {type(task).__name__}, not a {cls.__name__}")
    return task


def _classify_evaluate(args: argparse.Namespace) -> int:
    task = _load(args.model, TextClassifier)
    args.multi_label = task.config.multi_label
    report = task.evaluate(resolve_text_data(args, args.data, "val"), report_dir=args.report_dir)
    summary = {k: v for k, v in report.items() if k not in ("per_class", "confusion_matrix")}
    print(json.dumps(report if args.json else summary, indent=2))
    return 0


def _ner_evaluate(args: argparse.Namespace) -> int:
    task = _load(args.model, EntityTagger)
    report = task.evaluate(resolve_tagged_data(args.data, "val"))
    print(
        json.dumps(
            report if args.json else {k: v for k, v in report.items() if k != "per_type"}, indent=2
        )
    )
    return 0


def _classify_predict(args: argparse.Namespace) -> int:
    task = _load(args.model, TextClassifier)
    for text, result in zip(args.texts, task.predict(list(args.texts)), strict=True):
        ranked = sorted(result["scores"].items(), key=lambda kv: -kv[1])
        print(f"{text!r}: " + ", ".join(f"{name} {score:.3f}" for name, score in ranked))
    return 0


def _ner_predict(args: argparse.Namespace) -> int:
    task = _load(args.model, EntityTagger)
    for text, entities in zip(args.texts, task.predict(list(args.texts)), strict=True):
        print(json.dumps({"text": text, "entities": entities}, ensure_ascii=False))
    return 0


def _export(cls: type):
    def run(args: argparse.Namespace) -> int:
        print(f"exported {_load(args.model, cls).export(args.output, version=args.version)}")
        return 0

    return run


def _common_train_options(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("--data", required=True, help=help_text)
    parser.add_argument("--val-data", help="validation data (same forms as --data)")
    parser.add_argument(
        "--preset", help="pretrained backbone: 'minilm' or a keras-hub / Hugging Face folder"
    )
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, help="default depends on the encoder")
    parser.add_argument("--patience", type=int, help="early stopping patience in epochs")
    parser.add_argument(
        "--work-dir", help="checkpoint folder; an interrupted run resumes with --resume"
    )
    parser.add_argument("--resume", action="store_true")
    parser.add_argument(
        "--strategy",
        default="auto",
        choices=["auto", "mirrored", "multi_worker"],
        help="tf.distribute strategy (multi_worker reads TF_CONFIG)",
    )
    parser.add_argument("--output", required=True, help="where to save the .keras file")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output")


def _text_columns(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--text-column", default="text", help="CSV/TSV column holding the text")
    parser.add_argument("--label-column", default="label", help="CSV/TSV column holding the label")
    parser.add_argument("--data-dir", help="TFDS data_dir for tfds: names")


def _actions(task_parser: argparse.ArgumentParser, dest: str) -> argparse._SubParsersAction:
    return task_parser.add_subparsers(dest=dest, metavar="ACTION", required=True)


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``nlp`` with its ``classify``, ``ner``, ``translate`` and ``qa`` sub-commands."""
    nlp = commands.add_parser(
        "nlp",
        help="text classification, named-entity recognition, translation and question answering",
    )
    tasks = nlp.add_subparsers(dest="nlp_task", metavar="TASK", required=True)

    classify = _actions(tasks.add_parser("classify", help="text classification"), "action")
    train = classify.add_parser("train", help="train a classifier and save it as .keras")
    _common_train_options(train, CLASSIFY_DATA_HELP)
    _text_columns(train)
    train.add_argument("--classes", help="comma-separated class names (default: from the data)")
    train.add_argument(
        "--multi-label", action="store_true", help="labels separated by '|' in CSV cells"
    )
    train.add_argument("--sequence-length", type=int, default=64)
    train.set_defaults(func=_classify_train)
    evaluate = classify.add_parser(
        "evaluate", help="accuracy, macro-F1, per-class report, confusion matrix"
    )
    evaluate.add_argument("--model", required=True)
    evaluate.add_argument("--data", required=True, help=CLASSIFY_DATA_HELP)
    _text_columns(evaluate)
    evaluate.add_argument("--report-dir", help="write confusion_matrix.png here")
    evaluate.add_argument("--json", action="store_true", help="print the full report as JSON")
    evaluate.set_defaults(func=_classify_evaluate)
    predict = classify.add_parser("predict", help="labels and scores for texts")
    predict.add_argument("--model", required=True)
    predict.add_argument("texts", nargs="+")
    predict.set_defaults(func=_classify_predict)
    export = classify.add_parser("export", help="write a TF Serving SavedModel version (text in)")
    export.add_argument("--model", required=True)
    export.add_argument("--output", required=True, help="model base folder, e.g. models/sentiment")
    export.add_argument("--version", type=int)
    export.set_defaults(func=_export(TextClassifier))

    ner = _actions(tasks.add_parser("ner", help="named-entity recognition"), "action")
    train = ner.add_parser("train", help="train a tagger and save it as .keras")
    _common_train_options(train, NER_DATA_HELP)
    train.add_argument(
        "--entity-types", help="comma-separated entity types (default: from the data)"
    )
    train.add_argument("--max-words", type=int, default=64)
    train.set_defaults(func=_ner_train)
    evaluate = ner.add_parser("evaluate", help="entity-level precision / recall / F1 (seqeval)")
    evaluate.add_argument("--model", required=True)
    evaluate.add_argument("--data", required=True, help=NER_DATA_HELP)
    evaluate.add_argument("--json", action="store_true")
    evaluate.set_defaults(func=_ner_evaluate)
    predict = ner.add_parser(
        "predict", help="entities with character offsets, one JSON line per text"
    )
    predict.add_argument("--model", required=True)
    predict.add_argument("texts", nargs="+")
    predict.set_defaults(func=_ner_predict)
    export = ner.add_parser("export", help="write a TF Serving SavedModel version (text in)")
    export.add_argument("--model", required=True)
    export.add_argument("--output", required=True)
    export.add_argument("--version", type=int)
    export.set_defaults(func=_export(EntityTagger))

    # Imported here: these modules reuse this module's helpers (train options, export action).
    from nlp.qa import cli as qa_cli
    from nlp.translation import cli as translation_cli

    translation_cli.add_commands(tasks)
    qa_cli.add_commands(tasks)
