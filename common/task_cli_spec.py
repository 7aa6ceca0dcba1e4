"""A task's ``train|evaluate|predict|export`` commands as one table (part of ``common.task_cli``).

A domain CLI describes each task with a ``TaskCommands`` value (the task class by reference,
its ``train`` options and run function, and the keyword arguments of the generic evaluate /
predict / export commands) and registers it with ``add_task_commands``. The train parser is
built lazily from the task's config dataclass, so nothing here imports TensorFlow.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from common.task_cli import add_config_options, add_train_options, import_object
from common.task_cli_commands import (
    Options,
    add_evaluate_command,
    add_export_command,
    add_predict_command,
)

__all__ = [
    "IMAGE_INPUTS",
    "TaskCommands",
    "TrainCommand",
    "add_task_commands",
    "add_train_command",
]

#: ``predict`` keyword arguments of a task that reads image files.
IMAGE_INPUTS: Mapping[str, str] = {
    "inputs_help": "image files (JPEG, PNG, GIF, BMP)",
    "input_key": "image",
}


@dataclasses.dataclass(frozen=True)
class TrainCommand:
    """``train``: the shared train options, the task config's options and the run function.

    ``choices`` values may be ``"module:NAME"`` references, imported when the parser is built.
    ``options`` adds the task's own flags; ``help`` defaults to "train a NOUN and save it ...".
    """

    run: Callable[[argparse.Namespace], int]
    data_help: str
    epochs: int = 10
    data_dir: bool = True
    val_help: str = "validation data (same forms as --data)"
    config_help: Mapping[str, str] = dataclasses.field(default_factory=dict)
    choices: Mapping[str, Sequence[str] | str] = dataclasses.field(default_factory=dict)
    types: Mapping[str, Callable[[str], Any]] = dataclasses.field(default_factory=dict)
    skip: Sequence[str] = ()
    options: Options | None = None
    help: str | None = None


@dataclasses.dataclass(frozen=True)
class TaskCommands:
    """One task's commands: ``dlsuite <domain> NAME train|evaluate|predict|export``.

    ``evaluate`` / ``predict`` / ``export`` are the keyword arguments of
    ``add_evaluate_command`` / ``add_predict_command`` / ``add_export_command``; evaluate's
    ``data_help`` and ``data_dir`` default to those of ``train``.
    """

    name: str
    help: str
    task: str
    noun: str
    train: TrainCommand
    evaluate: Mapping[str, Any]
    predict: Mapping[str, Any]
    export: Mapping[str, Any]


def add_train_command(
    actions: Any,
    help: str,
    run: Callable[[argparse.Namespace], int],
    build: Callable[[argparse.ArgumentParser], None],
) -> argparse.ArgumentParser:
    """``train``, built by ``build(parser)`` when first used and run by ``run(args)``."""
    parser = actions.add_parser("train", help=help, description=help, builder=build)
    parser.set_defaults(func=run)
    return parser


def _build_train(task_ref: str, train: TrainCommand, parser: argparse.ArgumentParser) -> None:
    add_train_options(
        parser,
        train.data_help,
        epochs=train.epochs,
        val_help=train.val_help,
        data_dir=train.data_dir,
    )
    if train.options is not None:
        train.options(parser)
    choices = {
        name: import_object(value) if isinstance(value, str) else value
        for name, value in train.choices.items()
    }
    add_config_options(
        parser,
        import_object(task_ref).config_class,
        skip=train.skip,
        help=train.config_help,
        choices=choices,
        types_=train.types,
    )


def add_task_commands(tasks: Any, spec: TaskCommands) -> Any:
    """Add ``spec.name`` with its four actions to ``tasks``; returns its action sub-parsers."""
    from common.task_cli import add_group

    _, actions = add_group(tasks, spec.name, spec.help, "action")
    help = spec.train.help or f"train {_article(spec.noun)} {spec.noun} and save it as .keras"
    add_train_command(actions, help, spec.train.run, partial(_build_train, spec.task, spec.train))
    evaluate = {"data_help": spec.train.data_help, "data_dir": spec.train.data_dir}
    add_evaluate_command(actions, spec.task, **{**evaluate, **spec.evaluate})
    add_predict_command(actions, spec.task, **spec.predict)
    add_export_command(actions, spec.task, **spec.export)
    return actions


def _article(noun: str) -> str:
    return "an" if noun[:1].lower() in "aeiou" else "a"
