"""``dlsuite nlp qa train|evaluate|predict|export``: extractive question answering (SQuAD style).

Added to ``dlsuite nlp`` by ``nlp.cli``; built on ``common.task_cli`` (imports nothing from
``nlp.cli``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from common import task_cli as cli
from common.task_cli_spec import TaskCommands, TrainCommand, add_task_commands

TASK = "nlp.qa.task:QuestionAnswerer"
QA_DATA_HELP = (
    "a SQuAD JSON file (v1.1 or v2.0, .json or .json.gz), 'builtin:synthetic' (SYNTHETIC template "
    "facts), 'builtin:synthetic-v2' (with unanswerable questions) or 'tfds:squad/v1.1[:SPLIT]'"
)


def resolve_squad_data(spec: str, part: str, data_dir: str | None = None) -> Any:
    """A data spec -> ``SquadData``; built-in sets use fixed seeds (train 0, validation 1)."""
    from nlp.qa.squad import load_tfds_squad, make_synthetic_qa, read_squad

    seed, size = (0, 400) if part == "train" else (1, 100)
    data = cli.parse_data_spec(spec, ("synthetic", "synthetic-v2"))
    if data.kind == "builtin":
        unanswerable = 0.3 if data.name.endswith("v2") else 0.0
        return make_synthetic_qa(size, seed=seed, unanswerable=unanswerable)
    if data.kind == "tfds":
        split = data.arg or ("train" if part == "train" else "validation")
        return load_tfds_squad(data.name, split, data_dir)
    if data.path.is_file():
        squad = read_squad(spec)
        if squad.misaligned:
            print(
                f"note: {squad.misaligned} answer(s) not at their answer_start in {spec} "
                f"({squad.unusable} not in the context at all)"
            )
        return squad
    raise cli.UsageError(f"data {spec!r} is not a file or a builtin:/tfds: name ({QA_DATA_HELP})")


def _train(args: argparse.Namespace) -> int:
    from nlp.qa.task import QuestionAnswerer

    output = cli.start_training(args)
    train, val = cli.load_train_val(
        args, lambda spec, part: resolve_squad_data(spec, part, args.data_dir)
    )
    options = cli.config_options(args, QuestionAnswerer.config_class)
    if args.allow_no_answer is None:  # on for SQuAD 2.0 data unless --no-allow-no-answer
        options["allow_no_answer"] = "v2" in (train.version or "")
    task = QuestionAnswerer(**options)
    if args.tune_threshold and (val is None or not task.config.allow_no_answer):
        raise cli.UsageError(
            "--tune-threshold needs validation data (--val-data or a builtin: set) and "
            "no-answer mode (--allow-no-answer or v2.0 data)"
        )
    cli.fit(task, args, train, val)
    if args.tune_threshold:
        tuned = task.tune_no_answer_threshold(val)
        print(
            f"no-answer threshold {tuned['threshold']:.3f}: validation F1 {tuned['f1']:.2f} "
            f"(was {tuned['previous_threshold_f1']:.2f})"
        )
    cli.save(task, output)
    if val is not None:
        report = task.evaluate(val)
        print(f"validation exact match {report['exact_match']:.2f}, F1 {report['f1']:.2f}")
    return 0


def _tune_threshold_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tune-threshold",
        action="store_true",
        help="after training, set the no-answer threshold with the best F1 on --val-data",
    )


def _predict(task: Any, questions: list[Any], args: argparse.Namespace) -> list[Any]:
    if args.context_file:
        context = Path(args.context_file).read_text(encoding="utf-8")
    else:
        context = args.context
    if context is None:
        raise cli.UsageError("give the context with --context TEXT or --context-file FILE")
    return task.predict(list(questions), context)


def _describe(question: str, result: dict[str, Any]) -> str:
    answer = result["answer"] or "(no answer)"
    return f"{question!r}: {answer!r} [{result['start']}:{result['end']}] {result['score']:.3f}"


def _predict_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--context", help="the text to answer from")
    parser.add_argument("--context-file", help="read the context from this UTF-8 file")


QA = TaskCommands(
    "qa",
    "extractive question answering (SQuAD style)",
    TASK,
    noun="question answerer",
    train=TrainCommand(
        _train,
        QA_DATA_HELP,
        epochs=3,
        options=_tune_threshold_option,
        config_help={
            "preset": "pretrained backbone: 'minilm' or a keras-hub / Hugging Face folder",
            "sequence_length": "tokens per window",
            "doc_stride": "context tokens between window starts",
            "max_answer_length": "longest answer in tokens",
            "vocabulary_size": "WordPiece vocabulary (from scratch)",
            "allow_no_answer": "SQuAD 2.0 style: answer nothing when the no-answer score wins "
            "(default: on for v2.0 data)",
            "no_answer_threshold": "no-answer score must beat the best span by more than this",
            "max_question_tokens": "default: min(64, sequence_length // 4)",
            "learning_rate": "default: 1e-3 from scratch, 5e-5 pretrained",
        },
    ),
    evaluate={
        "resolve": lambda args, task: resolve_squad_data(args.data, "val", args.data_dir),
        "help": "SQuAD exact match and F1 (official normalisation)",
        "details": (),
        "parts": None,
    },
    predict={
        "help": "answers with character offsets",
        "describe": _describe,
        "inputs_help": "questions about the context",
        "input_key": "question",
        "options": _predict_options,
        "predict": _predict,
    },
    export={
        "example": "models/nlp_qa",
        "help": "write a TF Serving SavedModel version (question, context in)",
    },
)


def add_commands(tasks: argparse._SubParsersAction) -> None:
    """Add ``qa`` with ``train|evaluate|predict|export`` to the ``dlsuite nlp`` task sub-parsers."""
    add_task_commands(tasks, QA)
