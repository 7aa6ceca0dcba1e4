"""``dlsuite nlp classify|ner|translate|qa train|evaluate|predict|export`` (an entry point).

``dlsuite nlp generate train|evaluate|sample|export`` too. Built on ``common.task_cli``;
``translate``, ``qa`` and ``generate`` live in their own sub-packages' ``cli``
modules, which need nothing from this one (no import cycle).
"""

from __future__ import annotations

import argparse
from typing import Any

from common import task_cli as cli
from common.task_cli_spec import TaskCommands, TrainCommand, add_task_commands
from nlp.generation import cli as generation_cli
from nlp.qa import cli as qa_cli
from nlp.translation import cli as translation_cli

SUMMARY = (
    "text classification, named-entity recognition, translation, question answering and "
    "text generation"
)
CLASSIFIER = "nlp.classification.task:TextClassifier"
TAGGER = "nlp.ner:EntityTagger"
CLASSIFY_BUILTINS = ("sentiment", "topics")
CLASSIFY_DATA_HELP = (
    "a CSV/TSV file (see --text-column/--label-column), a folder with one sub-folder of .txt files "
    "per class, 'builtin:sentiment', 'builtin:topics' or 'tfds:NAME[:SPLIT]', any TFDS text "
    "set (e.g. imdb_reviews, ag_news_subset, glue/sst2; missing sets are downloaded when online "
    "unless --no-download)"
)
NER_DATA_HELP = (
    "a CoNLL file (token ... tag per line, blank line between sentences) or 'builtin:ner'"
)
TEXT_EXPORT_HELP = "write a TF Serving SavedModel version (text in)"
PRESET_HELP = "pretrained backbone: 'minilm' or a keras-hub / Hugging Face folder (default: none)"


def resolve_text_data(
    args: argparse.Namespace, spec: str, part: str, multi_label: bool | None = None
) -> Any:
    """A data spec -> ``TextData``; built-in sets use fixed seeds (train 0, validation 1).

    CSV/TSV columns: ``--text-column``/``--label-column`` (default "text" / "label"); for the
    validation part of training ``--val-text-column``/``--val-label-column`` when given (SST-2's
    dev file names them apart). A ``tfds:`` set gets them as its text / label feature only when
    given (else the set's own); ``glue/*`` sets are scored on their validation split.
    """
    from nlp import data as data_lib

    if multi_label is None:
        multi_label = bool(getattr(args, "multi_label", False))
    seed, size = (0, 400) if part == "train" else (1, 100)
    data = cli.parse_data_spec(spec, CLASSIFY_BUILTINS)
    if data.kind == "builtin":
        if data.name == "sentiment":
            return data_lib.make_sentiment(size, seed=seed)
        return data_lib.make_topics(size, seed=seed, multi_label=multi_label)
    text_column = getattr(args, "text_column", None)  # None: not given
    label_column = getattr(args, "label_column", None)
    if part == "val":
        text_column = getattr(args, "val_text_column", None) or text_column
        label_column = getattr(args, "val_label_column", None) or label_column
    if data.kind == "tfds":  # GLUE test splits are unlabelled: score on validation
        default_split = "validation" if data.name.startswith("glue/") else "test"
        split = data.arg or ("train" if part == "train" else default_split)
        return data_lib.load_tfds_text(
            data.name,
            split,
            getattr(args, "data_dir", None),
            text_key=text_column,
            label_key=label_column,
        )
    if data.path.is_dir():
        return data_lib.load_text_folder(data.path)
    if data.path.is_file():
        return data_lib.load_text_csv(
            data.path,
            text_column or "text",
            label_column or "label",
            label_separator="|" if multi_label else None,
        )
    raise cli.UsageError(
        f"data {spec!r} is not a file, a folder or a builtin:/tfds: name ({CLASSIFY_DATA_HELP})"
    )


def resolve_tagged_data(spec: str, part: str) -> Any:
    """A CoNLL file or ``builtin:ner`` -> ``TaggedSentences``."""
    from nlp import data as data_lib

    data = cli.parse_data_spec(spec, ("ner",))
    if data.kind == "builtin":
        return data_lib.make_ner(400 if part == "train" else 100, seed=0 if part == "train" else 1)
    if data.kind == "tfds":
        raise cli.UsageError(f"{spec!r}: NER reads CoNLL files or builtin:ner, not tfds: sets")
    return data_lib.read_conll(spec)


# --------------------------------------------------------------------------- classify
def _classify_train(args: argparse.Namespace) -> int:
    from nlp.classification.task import TextClassifier

    output = cli.start_training(args)
    config = TextClassifier.config_class
    multi_label = cli.config_value(args, config, "multi_label")
    train, val = cli.load_train_val(
        args, lambda spec, part: resolve_text_data(args, spec, part, multi_label)
    )
    options = cli.config_options(args, config)
    task = TextClassifier(**{**options, "classes": args.classes or train.class_names})
    key = "subset_accuracy" if multi_label else "accuracy"
    summary = f"validation {key} {{{key}:.4f}}, macro-F1 {{macro_f1:.4f}}"
    return cli.finish_training(task, args, output, train, val, summary)


def _text_columns(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--text-column",
        help="CSV/TSV column holding the text (default: text); for tfds: sets, the text "
        "feature (default: the set's)",
    )
    parser.add_argument(
        "--label-column",
        help="CSV/TSV column holding the label (default: label); for tfds: sets, the label "
        "feature (default: the set's)",
    )


def _classify_train_options(parser: argparse.ArgumentParser) -> None:
    _text_columns(parser)
    parser.add_argument(
        "--val-text-column", help="text column of the --val-data file (default: --text-column)"
    )
    parser.add_argument(
        "--val-label-column",
        help="label column of the --val-data file (default: --label-column)",
    )


def _classify_evaluate_data(args: argparse.Namespace, task: Any) -> Any:
    return resolve_text_data(args, args.data, "test", task.config.multi_label)


def _describe_classification(text: str, result: dict[str, Any]) -> str:
    ranked = sorted(result["scores"].items(), key=lambda kv: -kv[1])
    return f"{text!r}: " + ", ".join(f"{name} {score:.3f}" for name, score in ranked)


# --------------------------------------------------------------------------- ner
def _ner_train(args: argparse.Namespace) -> int:
    from nlp.ner import EntityTagger

    output = cli.start_training(args)
    train, val = cli.load_train_val(args, resolve_tagged_data)
    options = cli.config_options(args, EntityTagger.config_class)
    task = EntityTagger(**{**options, "entity_types": args.entity_types or train.entity_types})
    summary = "validation entity F1 {f1:.4f} (P {precision:.4f}, R {recall:.4f})"
    return cli.finish_training(task, args, output, train, val, summary)


def _describe_entities(text: str, entities: Any) -> str:
    found = ", ".join(f"{e['text']} ({e['label']})" for e in entities) if entities else "none"
    return f"{text!r}: {found}"


def _ner_predict(task: Any, inputs: list[Any], args: argparse.Namespace) -> list[Any]:
    return [{"entities": entities} for entities in task.predict(inputs)]


CLASSIFY = TaskCommands(
    "classify",
    "text classification",
    CLASSIFIER,
    noun="classifier",
    train=TrainCommand(
        _classify_train,
        CLASSIFY_DATA_HELP,
        options=_classify_train_options,
        config_help={
            "classes": "class names (default: the data's)",
            "multi_label": "several labels per text ('a|b' in CSV cells)",
            "preset": PRESET_HELP,
            "learning_rate": "default: 1e-3 from scratch, 5e-5 pretrained",
        },
        choices={"pooling": ("mean", "mean_max")},
    ),
    evaluate={
        "resolve": _classify_evaluate_data,
        "help": "accuracy, macro-F1, per-class report, confusion matrix",
        "parts": None,
        "options": _text_columns,
    },
    predict={
        "help": "labels and scores for texts",
        "describe": _describe_classification,
        "inputs_help": "texts to classify",
        "input_key": "text",
    },
    export={"example": "models/sentiment", "help": TEXT_EXPORT_HELP},
)
NER = TaskCommands(
    "ner",
    "named-entity recognition",
    TAGGER,
    noun="tagger",
    train=TrainCommand(
        _ner_train,
        NER_DATA_HELP,
        data_dir=False,
        config_help={
            "entity_types": "entity types (default: the data's)",
            "preset": PRESET_HELP,
            "learning_rate": "default: 3e-3 from scratch, 5e-5 pretrained",
        },
    ),
    evaluate={
        "resolve": lambda args, task: resolve_tagged_data(args.data, "val"),
        "help": "entity-level precision / recall / F1 (seqeval)",
        "details": ("per_type",),
        "parts": None,
    },
    predict={
        "help": "entities with character offsets",
        "describe": lambda text, result: _describe_entities(text, result["entities"]),
        "inputs_help": "texts to tag",
        "input_key": "text",
        "predict": _ner_predict,
    },
    export={"example": "models/ner", "help": TEXT_EXPORT_HELP},
)


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``nlp`` with its ``classify``, ``ner``, ``translate``, ``qa`` and ``generate``
    sub-commands."""
    _, tasks = cli.add_group(commands, "nlp", SUMMARY, dest="nlp_task")
    add_task_commands(tasks, CLASSIFY)
    add_task_commands(tasks, NER)
    translation_cli.add_commands(tasks)
    qa_cli.add_commands(tasks)
    generation_cli.add_commands(tasks)
