"""One scaffold for every task's command line: parsers, config options, data specs, training.

A domain CLI builds ``dlsuite <domain> <task> train|evaluate|predict|export`` from these parts:

- ``CommandParser``: rejects abbreviated flags, shows defaults in ``--help`` and can be built
  lazily (on first parse), so ``dlsuite --help`` never imports TensorFlow or a task module.
- ``add_config_options`` / ``config_options``: one ``--option-name`` per field of a task's config
  dataclass, named like the Python keyword; argparse's default is None, meaning "the config's
  default", so defaults live only in the dataclass (``--help`` shows them).
- ``parse_data_spec``: ``builtin:NAME[:ARG]``, ``tfds:NAME[:SPLIT]`` or a path.
- ``add_train_options`` / ``start_training`` / ``fit``: ``--data``, ``--val-data``, ``--epochs``,
  ``--patience``, ``--work-dir``/``--resume``, ``--strategy``, ``--output``/``--overwrite``,
  ``--seed`` and ``--log-dir`` (TensorBoard), the same on every supervised train command.

Nothing here imports TensorFlow or Keras at import time; the helpers that need them import them
when called. ``common.task_cli_commands`` builds the load / evaluate / predict / export commands.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import importlib.util
import json
import os
import sys
import types
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

STRATEGIES = ("auto", "mirrored", "multi_worker")


class UsageError(ValueError):
    """A mistake in how a command was called (reported as one sentence, exit code 2)."""


class _ExplicitNone:
    """The value of ``--option none``: set the option to None (not "use the config's default")."""

    def __repr__(self) -> str:
        return "none"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _ExplicitNone)

    def __hash__(self) -> int:
        return hash("dlsuite-explicit-none")


#: Parsed value of ``none`` for an option whose config field may be None.
NONE = _ExplicitNone()


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
    """The ``ACTION`` sub-parsers of a task (``train``, ``evaluate``, ...), as ``CommandParser``s."""
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


# --------------------------------------------------------------------------- config options
def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def config_default(config_class: type, name: str) -> Any:
    """The default of one field of a config dataclass (factories called)."""
    for field in dataclasses.fields(config_class):
        if field.name == name:
            if field.default is not dataclasses.MISSING:
                return field.default
            if field.default_factory is not dataclasses.MISSING:
                return field.default_factory()
            raise ValueError(f"{config_class.__name__}.{name} has no default")
    raise ValueError(f"{config_class.__name__} has no option {name!r}")


def show_value(value: Any) -> str:
    """A config value as a person would type it on the command line."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return ",".join(show_value(v) for v in value) if value else '""'
    if isinstance(value, dict):
        return json.dumps(value)
    if value == "":
        return '""'
    return str(value)


def _optional(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        return NONE if text.strip().lower() == "none" else parse(text)

    convert.__name__ = getattr(parse, "__name__", "value")
    return convert


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not JSON: {error.msg}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object, e.g. '{\"key\": 1}'")
    return value


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


_json_or_text.__name__ = "value"


class ListOption(argparse.Action):
    """A list option: ``--widths 16 32 64`` or ``--widths 16,32,64`` (both give [16, 32, 64])."""

    def __init__(self, *args: Any, item_type: Callable[[str], Any] = str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.item_type = item_type

    def __call__(self, parser: Any, namespace: Any, values: Any, option_string: Any = None):
        items = [part.strip() for value in values for part in str(value).split(",")]
        try:
            converted = [self.item_type(item) for item in items if item]
        except (TypeError, ValueError) as error:
            raise argparse.ArgumentError(self, f"invalid list item: {error}") from None
        setattr(namespace, self.dest, converted)


def _argument_kind(hint: Any) -> tuple[str, Any, bool]:
    """A field type -> (kind, item or scalar type, may be None)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(hint) if a is not type(None)]
        nullable = len(members) < len(typing.get_args(hint))
        if len(members) == 1:
            kind, item, _ = _argument_kind(members[0])
            return kind, item, nullable
        return "any", None, nullable
    if hint is bool:
        return "bool", bool, False
    if hint in (int, float, str):
        return "scalar", hint, False
    if origin in (list, tuple, Sequence):
        args = typing.get_args(hint)
        item = args[0] if args and args[0] in (int, float, str) else str
        return "list", item, False
    if origin is dict or hint is dict:
        return "dict", None, False
    return "any", None, False


def add_config_options(
    parser: argparse.ArgumentParser,
    config_class: type,
    *,
    skip: Iterable[str] = (),
    help: Mapping[str, str] | None = None,
    choices: Mapping[str, Sequence[Any]] | None = None,
    types_: Mapping[str, Callable[[str], Any]] | None = None,
    aliases: Mapping[str, Sequence[str]] | None = None,
    title: str | None = None,
) -> list[str]:
    """Add ``--field-name`` for every field of ``config_class``; returns the field names added.

    Every option's argparse default is None ("the config's default"); the help text shows the
    config's default. Bools become ``--x/--no-x``, lists take several values (or one
    comma-separated value), dicts take JSON, and ``none`` sets an optional field to None.
    ``aliases`` adds old spellings of a flag; ``types_`` overrides how a value is parsed.
    """
    help, choices = dict(help or {}), dict(choices or {})
    types_, aliases = dict(types_ or {}), dict(aliases or {})
    hints = typing.get_type_hints(config_class)
    group = parser.add_argument_group(
        title or "model options",
        f"{config_class.__name__} fields; an option not given keeps the config's default",
    )
    added = []
    for field in dataclasses.fields(config_class):
        if field.name in skip or not field.init:
            continue
        default = config_default(config_class, field.name)
        text = help.get(field.name, field.name.replace("_", " ")).replace("%", "%%")
        if "default" not in text:
            text += f" (default: {show_value(default)})".replace("%", "%%")
        flags = [_flag(field.name), *aliases.get(field.name, ())]
        kind, item, nullable = _argument_kind(hints[field.name])
        options: dict[str, Any] = {"dest": field.name, "default": None, "help": text}
        if field.name in types_:
            kind, options["type"] = "custom", types_[field.name]
        if kind == "bool":
            group.add_argument(*flags, action=argparse.BooleanOptionalAction, **options)
        elif kind == "list":
            group.add_argument(
                *flags,
                action=ListOption,
                item_type=item,
                nargs="+",
                metavar=item.__name__.upper(),
                **options,
            )
        else:
            if kind == "scalar":
                options["type"] = _optional(item) if nullable else item
            elif kind == "dict":
                options["type"] = _json_object
            elif kind == "any":
                options["type"] = _optional(_json_or_text) if nullable else _json_or_text
            if field.name in choices:
                options["choices"] = [*choices[field.name], *([NONE] if nullable else [])]
            else:
                options["metavar"] = (item.__name__ if kind == "scalar" else "VALUE").upper()
            group.add_argument(*flags, **options)
        added.append(field.name)
    return added


def config_options(args: argparse.Namespace, config_class: type) -> dict[str, Any]:
    """The config fields the user set on the command line (``none`` -> None); others omitted."""
    values = {}
    for field in dataclasses.fields(config_class):
        value = getattr(args, field.name, None)
        if value is not None:
            values[field.name] = None if value == NONE else value
    return values


def config_value(args: argparse.Namespace, config_class: type, name: str) -> Any:
    """One option's effective value: what the user gave, else the config's default."""
    value = getattr(args, name, None)
    if value is None:
        return config_default(config_class, name)
    return None if value == NONE else value


# --------------------------------------------------------------------------- data specs
@dataclasses.dataclass(frozen=True)
class DataSpec:
    """A parsed ``--data`` value: ``kind`` is "builtin", "tfds" or "path"."""

    kind: str
    name: str
    arg: str = ""  # builtin: the text after NAME: ; tfds: the split

    @property
    def path(self) -> Path:
        return Path(self.name)


def parse_data_spec(spec: str, builtins: Iterable[str] = ()) -> DataSpec:
    """``builtin:NAME[:ARG]`` / ``tfds:NAME[:SPLIT]`` / a path -> ``DataSpec``.

    An unknown built-in name is a ``UsageError`` listing the built-ins.
    """
    if not spec or not spec.strip():
        raise UsageError("--data is empty; give a file, a folder, builtin:NAME or tfds:NAME")
    if spec.startswith("builtin:"):
        name, _, arg = spec.removeprefix("builtin:").partition(":")
        known = list(builtins)
        if name not in known:
            listed = ", ".join(f"builtin:{k}" for k in known) or "none for this task"
            raise UsageError(f"unknown built-in dataset {spec!r}; the built-ins are {listed}")
        return DataSpec("builtin", name, arg)
    if spec.startswith("tfds:"):
        name, _, split = spec.removeprefix("tfds:").partition(":")
        if not name:
            raise UsageError(f"{spec!r} names no dataset; write tfds:NAME or tfds:NAME:SPLIT")
        return DataSpec("tfds", name, split)
    return DataSpec("path", spec)


def validation_spec(args: argparse.Namespace) -> str | None:
    """``--val-data``, else ``--data`` itself when it is a built-in set (its validation part)."""
    if getattr(args, "val_data", None):
        return args.val_data
    return args.data if args.data.startswith("builtin:") else None


# --------------------------------------------------------------------------- training
def add_train_options(
    parser: argparse.ArgumentParser,
    data_help: str,
    *,
    epochs: int = 10,
    val_help: str = "validation data (same forms as --data)",
    data_dir: bool = True,
    supervised: bool = True,
    seed: bool = False,
) -> None:
    """The options every train command shares (``seed=True`` adds ``--seed`` for configs
    without a ``seed`` field; a config's own ``seed`` field is its ``--seed``)."""
    group = parser.add_argument_group("data and training")
    group.add_argument("--data", required=True, help=data_help)
    if supervised:
        group.add_argument("--val-data", help=val_help)
    if data_dir:
        group.add_argument("--data-dir", help="TFDS data_dir for tfds: names")
    group.add_argument("--epochs", type=int, default=epochs, help="training epochs")
    if supervised:
        group.add_argument(
            "--patience", type=int, help="early stopping patience in epochs (default: off)"
        )
        group.add_argument(
            "--log-dir", help="write TensorBoard logs here (view with: tensorboard --logdir DIR)"
        )
    group.add_argument(
        "--work-dir", help="checkpoint folder; an interrupted run resumes with --resume"
    )
    group.add_argument(
        "--resume", action="store_true", help="continue the interrupted run in --work-dir"
    )
    group.add_argument(
        "--strategy",
        default="auto",
        choices=STRATEGIES,
        help="tf.distribute strategy (multi_worker reads TF_CONFIG)",
    )
    if seed:
        group.add_argument("--seed", type=int, help="seed Python, NumPy and Keras")
    add_output_options(group)


def add_output_options(parser: Any, help: str = "where to save the .keras file") -> None:
    """``--output`` (required) and ``--overwrite``."""
    parser.add_argument("--output", required=True, help=help)
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output")


def check_output(args: argparse.Namespace) -> Path:
    """``--output`` as a Path; an existing file is an error unless ``--overwrite`` was given."""
    output = Path(args.output)
    if output.exists() and not getattr(args, "overwrite", False):
        raise FileExistsError(f"{output} exists; pass --overwrite to replace it")
    return output


def start_training(args: argparse.Namespace) -> Path:
    """Checks made before any data is read: ``--output``, ``--resume``, ``--log-dir``, ``--seed``.

    Returns the output path. Seeds Python, NumPy and Keras when ``--seed`` was given.
    """
    output = check_output(args)
    if getattr(args, "resume", False) and not getattr(args, "work_dir", None):
        raise UsageError("--resume needs the --work-dir of the interrupted run")
    if getattr(args, "log_dir", None) and importlib.util.find_spec("tensorboard") is None:
        raise UsageError("--log-dir needs the tensorboard package: pip install tensorboard")
    if getattr(args, "seed", None) is not None:
        seed_everything(args.seed)
    return output


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy and Keras (and the backend) with one number."""
    import keras

    keras.utils.set_random_seed(int(seed))


def training_callbacks(args: argparse.Namespace) -> list[Any]:
    """Keras callbacks the shared options ask for: TensorBoard with ``--log-dir``."""
    if not getattr(args, "log_dir", None):
        return []
    import keras

    return [keras.callbacks.TensorBoard(log_dir=str(args.log_dir))]


def fit(task: Any, args: argparse.Namespace, data: Any, validation_data: Any = None) -> Any:
    """``task.fit`` with the shared options (epochs, work dir, resume, strategy, TensorBoard)."""
    options: dict[str, Any] = {
        "validation_data": validation_data,
        "epochs": args.epochs,
        "work_dir": args.work_dir,
        "resume": args.resume,
        "strategy": args.strategy,
        "verbose": 2,
    }
    if getattr(args, "patience", None) is not None:
        options["patience"] = args.patience
    callbacks = training_callbacks(args)
    if callbacks:
        options["callbacks"] = callbacks
    task.fit(data, **options)
    return task


def save(task: Any, output: Path) -> Path:
    """Save the trained task and say where."""
    task.save(output)
    print(f"saved {output}")
    return output


def split_list(text: str | None) -> list[str]:
    """``"a, b,c"`` -> ``["a", "b", "c"]``; None or "" -> []."""
    return [item.strip() for item in text.split(",") if item.strip()] if text else []
