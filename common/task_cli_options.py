"""Command-line options generated from a task's config dataclass (part of ``common.task_cli``).

One ``--option-name`` per field, named like the Python keyword; argparse's default is None,
meaning "the config's default", so defaults live only in the dataclass (help shows them).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any


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
