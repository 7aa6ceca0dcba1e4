"""Checks shared by the tasks' ``TaskConfig.validate``: each raises ``ValueError`` naming the
option, the rule and the value it got, in the same words in every task."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

_COUNTS = {1: "one class", 2: "two classes"}


def class_names(classes: Iterable[Any], owner: str, example: str, minimum: int = 2) -> list[str]:
    """``classes`` as strings, at least ``minimum`` of them and each unique."""
    names = [str(c) for c in classes]
    if len(names) < minimum:
        count = _COUNTS.get(minimum, f"{minimum} classes")
        raise ValueError(f"{owner} needs at least {count}, e.g. {example}")
    if len(set(names)) != len(names):
        raise ValueError(f"class names must be unique, got {names}")
    return names


def check_choice(name: str, value: Any, choices: Sequence[Any]) -> None:
    """``value`` must be one of ``choices``."""
    if value not in choices:
        options = ", ".join(repr(c) if c is None else str(c) for c in choices)
        raise ValueError(f"{name} must be one of {options}, got {value!r}")


def check_interval(name: str, value: float, low: float, high: float, bounds: str = "[)") -> None:
    """``value`` must lie between ``low`` and ``high``; ``bounds`` says which ends are closed
    (``"[)"``: ``low <= value < high``; ``"()"``, ``"(]"``, ``"[]"`` likewise)."""
    above = value >= low if bounds[0] == "[" else value > low
    below = value <= high if bounds[1] == "]" else value < high
    if not (above and below):
        raise ValueError(f"{name} must be in {bounds[0]}{low:g}, {high:g}{bounds[1]}, got {value}")


def check_at_least(config: Any, minimum: float, *names: str) -> None:
    """Each named field of ``config`` must be at least ``minimum``."""
    for name in names:
        value = getattr(config, name)
        if value < minimum:
            raise ValueError(f"{name} must be at least {minimum:g}, got {value}")
