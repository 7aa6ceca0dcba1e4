"""Shared helpers of the command-line tests: run ``dlsuite`` argv in-process, written compactly.

A command line is given as parts: a string is split like a shell would (``shlex``), a path
(or number) is one word, and a list gives its words unchanged, e.g.
``run("vision detect export --model", model, "--output", tmp_path / "models")``.
"""

from __future__ import annotations

import argparse
import os
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

Part = str | os.PathLike | int | float | list | tuple


def command_words(*parts: Part) -> list[str]:
    """The argv words of ``parts`` (strings shell-split, paths and numbers whole, lists as is)."""
    words: list[str] = []
    for part in parts:
        if isinstance(part, str):
            words.extend(shlex.split(part))
        elif isinstance(part, (list, tuple)):
            words.extend(str(word) for word in part)
        else:
            words.append(os.fspath(part) if isinstance(part, os.PathLike) else str(part))
    return words


def domain_runner(register: Callable[[Any], None], dest: str = "command") -> Callable[..., int]:
    """``run(*parts) -> exit code``: parse with one domain's ``register`` and run the command."""

    def run(*parts: Part) -> int:
        parser = argparse.ArgumentParser(prog="dlsuite")
        register(parser.add_subparsers(dest=dest, required=True))
        args = parser.parse_args(command_words(*parts))
        return args.func(args)

    return run


def dlsuite(*parts: Part) -> int:
    """``common.cli.main`` (the whole ``dlsuite`` command) on ``parts``."""
    from common.cli import main

    return main(command_words(*parts))


def check_train(run: Callable[..., int], command: str, *parts: Part, output: Path) -> None:
    """``run(COMMAND train PARTS... --output OUTPUT)`` succeeds and writes the task file."""
    assert run(command, "train", *parts, "--output", output) == 0
    assert Path(output).is_file()


def check_export(run: Callable[..., int], command: str, model: str | Path, output: Path) -> Path:
    """``run(COMMAND export --model M --output DIR)`` succeeds and writes version 1."""
    assert run(command, "export --model", model, "--output", output) == 0
    saved = output / "1" / "saved_model.pb"
    assert saved.is_file()
    return saved
