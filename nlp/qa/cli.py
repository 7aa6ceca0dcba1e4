"""``dlsuite nlp qa train|evaluate|predict|export``: extractive question answering from the command line."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import nlp.cli as nlp_cli  # module import (not names): nlp.cli may import this module at its top
from nlp.qa.squad import SquadData, load_tfds_squad, make_synthetic_qa, read_squad
from nlp.qa.task import QuestionAnswerer

QA_DATA_HELP = (
    "a SQuAD JSON file (v1.1 or v2.0, .json or .json.gz), 'builtin:synthetic' (SYNTHETIC template "
    "facts), 'builtin:synthetic-v2' (with unanswerable questions) or 'tfds:squad/v1.1[:SPLIT]'"
)


def resolve_squad_data(spec: str, part: str, data_dir: str | None = None) -> SquadData:
    """A data spec -> ``SquadData``; built-in sets use fixed seeds (train 0, validation 1)."""
    seed, size = (0, 400) if part == "train" else (1, 100)
    if spec in ("builtin:synthetic", "builtin:synthetic-v2"):
        return make_synthetic_qa(size, seed=seed, unanswerable=0.3 if spec.endswith("v2") else 0.0)
    if spec.startswith("builtin:"):
        raise ValueError(
            f"unknown built-in dataset {spec!r}; choose builtin:synthetic or builtin:synthetic-v2"
        )
    if spec.startswith("tfds:"):
        name, _, split = spec.removeprefix("tfds:").partition(":")
        return load_tfds_squad(
            name or "squad/v1.1", split or ("train" if part == "train" else "validation"), data_dir
        )
    if Path(spec).is_file():
        data = read_squad(spec)
        if data.misaligned:
            print(
                f"note: {data.misaligned} answer(s) not at their answer_start in {spec} "
                f"({data.unusable} not in the context at all)"
            )
        return data
    raise ValueError(f"data {spec!r} is not a file or a builtin:/tfds: name ({QA_DATA_HELP})")


def _train(args: argparse.Namespace) -> int:
    output = nlp_cli._check_output(args)
    train = resolve_squad_data(args.data, "train", args.data_dir)
    val = (
        resolve_squad_data(args.val_data or args.data, "val", args.data_dir)
        if (args.val_data or args.data.startswith("builtin:"))
        else None
    )
    task = QuestionAnswerer(
        preset=args.preset,
        sequence_length=args.sequence_length,
        doc_stride=args.doc_stride,
        max_answer_length=args.max_answer_length,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        allow_no_answer=args.allow_no_answer or "v2" in (train.version or ""),
        no_answer_threshold=args.no_answer_threshold,
        **({} if args.preset else {"vocabulary_size": args.vocabulary_size}),
    )
    if args.tune_threshold and (val is None or not task.config.allow_no_answer):
        raise ValueError(
            "--tune-threshold needs validation data (--val-data or a builtin: set) and no-answer mode (--allow-no-answer or v2.0 data)"
        )
    nlp_cli._fit(task, train, val, args)
    if args.tune_threshold:
        tuned = task.tune_no_answer_threshold(val)
        print(
            f"no-answer threshold {tuned['threshold']:.3f}: validation F1 {tuned['f1']:.2f} "
            f"(was {tuned['previous_threshold_f1']:.2f})"
        )
    task.save(output)
    print(f"saved {output}")
    if val is not None:
        report = task.evaluate(val)
        print(f"validation exact match {report['exact_match']:.2f}, F1 {report['f1']:.2f}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    task = nlp_cli._load(args.model, QuestionAnswerer)
    report = task.evaluate(resolve_squad_data(args.data, "val", args.data_dir))
    print(json.dumps(report, indent=2))
    return 0


def _predict(args: argparse.Namespace) -> int:
    task = nlp_cli._load(args.model, QuestionAnswerer)
    context = (
        Path(args.context_file).read_text(encoding="utf-8") if args.context_file else args.context
    )
    if context is None:
        raise ValueError("give the context with --context TEXT or --context-file FILE")
    for question, result in zip(
        args.questions, task.predict(list(args.questions), context), strict=True
    ):
        print(json.dumps({"question": question, **result}, ensure_ascii=False))
    return 0


def add_commands(tasks: argparse._SubParsersAction) -> None:
    """Add ``qa`` with ``train|evaluate|predict|export`` to the ``dlsuite nlp`` task sub-parsers."""
    qa = nlp_cli._actions(
        tasks.add_parser("qa", help="extractive question answering (SQuAD style)"), "action"
    )
    train = qa.add_parser("train", help="train a question answerer and save it as .keras")
    nlp_cli._common_train_options(train, QA_DATA_HELP)
    train.set_defaults(epochs=3, batch_size=16)
    train.add_argument("--data-dir", help="TFDS data_dir for tfds: names")
    train.add_argument("--sequence-length", type=int, default=256, help="tokens per window")
    train.add_argument(
        "--doc-stride", type=int, default=128, help="context tokens between window starts"
    )
    train.add_argument("--max-answer-length", type=int, default=30, help="longest answer in tokens")
    train.add_argument(
        "--vocabulary-size", type=int, default=8000, help="WordPiece vocabulary (from scratch)"
    )
    train.add_argument(
        "--allow-no-answer",
        action="store_true",
        help="SQuAD 2.0 style: answer nothing when the no-answer score wins (on for v2.0 data)",
    )
    train.add_argument(
        "--no-answer-threshold",
        type=float,
        default=0.0,
        help="no-answer score must beat the best span by more than this",
    )
    train.add_argument(
        "--tune-threshold",
        action="store_true",
        help="after training, set the no-answer threshold with the best F1 on --val-data",
    )
    train.set_defaults(func=_train)
    evaluate = qa.add_parser("evaluate", help="SQuAD exact match and F1 (official normalisation)")
    evaluate.add_argument("--model", required=True)
    evaluate.add_argument("--data", required=True, help=QA_DATA_HELP)
    evaluate.add_argument("--data-dir", help="TFDS data_dir for tfds: names")
    evaluate.set_defaults(func=_evaluate)
    predict = qa.add_parser(
        "predict", help="answers with character offsets, one JSON line per question"
    )
    predict.add_argument("--model", required=True)
    predict.add_argument("--context", help="the text to answer from")
    predict.add_argument("--context-file", help="read the context from this UTF-8 file")
    predict.add_argument("questions", nargs="+")
    predict.set_defaults(func=_predict)
    export = qa.add_parser(
        "export", help="write a TF Serving SavedModel version (question, context in)"
    )
    export.add_argument("--model", required=True)
    export.add_argument("--output", required=True, help="model base folder, e.g. models/nlp_qa")
    export.add_argument("--version", type=int)
    export.set_defaults(func=nlp_cli._export(QuestionAnswerer))
