"""Parsers of the ``dlsuite`` command line: no abbreviations, defaults in help, lazy building.

``CommandParser`` builds itself on first use, so ``dlsuite --help`` never imports TensorFlow or
a task module; ``quiet_native_logs`` hides TensorFlow's start-up banner (which ignores
``TF_CPP_MIN_LOG_LEVEL``) while a builder or a command imports it. Part of ``common.task_cli``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any


class UsageError(ValueError):
    """A mistake in how a command was called (reported as one sentence, exit code 2)."""


# --------------------------------------------------------------------------- TF start-up logs
@contextlib.contextmanager
def quiet_native_logs() -> Iterator[None]:
    """Hide what native code writes to stderr meanwhile when ``TF_CPP_MIN_LOG_LEVEL`` >= 1.

    TensorFlow 2.21 prints its start-up lines (oneDNN, CUDA stubs) through absl before its own
    log level applies, so the level alone cannot hide them; this honours it for the import.
    """
    level = os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0").strip()
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # a replaced stderr (e.g. captured)
        fd = -1
    if fd != 2 or not level.isdigit() or int(level) < 1:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def import_tensorflow_quietly() -> None:
    """Import TensorFlow (if installed and not yet imported) without its start-up banner."""
    if "tensorflow" in sys.modules or importlib.util.find_spec("tensorflow") is None:
        return
    with quiet_native_logs():
        import tensorflow  # noqa: F401


# --------------------------------------------------------------------------- parsers
class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows ``(default: X)`` for options with a real default; None/False/suppressed show none."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            "default" in text
            or default is None
            or default is False
            or default is argparse.SUPPRESS
            or not action.option_strings
        ):
            return text
        return f"{text} (default: %(default)s)"


class CommandParser(argparse.ArgumentParser):
    """``ArgumentParser`` that refuses abbreviations, shows defaults and can be built lazily.

    ``builder(parser)`` runs on the first parse or help request; it fills the parser in, or
    returns another parser that then does the parsing (a domain registered on demand).
    """

    def __init__(
        self,
        *args: Any,
        builder: Callable[[CommandParser], argparse.ArgumentParser | None] | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)
        self._builder = builder
        self._delegate: argparse.ArgumentParser | None = None

    def built(self) -> argparse.ArgumentParser:
        """Run the builder once; the parser that parses for this one (itself or a delegate)."""
        if self._builder is not None:
            builder, self._builder = self._builder, None
            with quiet_native_logs():  # building may import a task module, hence TensorFlow
                self._delegate = builder(self)
        return self._delegate or self

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        target = self.built()
        if target is not self:
            return target.parse_known_args(args, namespace)
        return super().parse_known_args(args, namespace)

    def format_help(self) -> str:
        target = self.built()
        return target.format_help() if target is not self else super().format_help()

    def format_usage(self) -> str:
        target = self.built()
        return target.format_usage() if target is not self else super().format_usage()


def add_actions(parser: argparse.ArgumentParser, dest: str = "action") -> Any:
    """The ``ACTION`` sub-parsers of a task (``train``, ``evaluate``, ...): ``CommandParser``s."""
    return parser.add_subparsers(
        dest=dest, metavar="ACTION", required=True, parser_class=CommandParser
    )


def add_group(
    subparsers: Any, name: str, help: str, dest: str = "task", **kwargs: Any
) -> tuple[argparse.ArgumentParser, Any]:
    """Add a sub-command holding further sub-commands; returns (its parser, its sub-parsers)."""
    parser = subparsers.add_parser(
        name,
        help=help,
        description=kwargs.pop("description", help),
        allow_abbrev=False,
        formatter_class=HelpFormatter,
        **kwargs,
    )
    return parser, parser.add_subparsers(
        dest=dest,
        metavar=dest.upper().rsplit("_", 1)[-1],
        required=True,
        parser_class=CommandParser,
    )


def import_object(ref: str) -> Any:
    """``"package.module:Name"`` -> the object (imported only when a command needs it)."""
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)
