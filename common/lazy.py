"""Lazy package exports: public names import their module on first use.

``import vision`` (and the CLI's ``--help``) must not pay for importing TensorFlow; packages list
``{name: module}`` and get a module ``__getattr__`` and ``__dir__`` (so ``dir(pkg)`` and tab
completion still show every public name).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package`` whose public names live in ``exports`` modules."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    def __dir__() -> list[str]:
        own = vars(importlib.import_module(package))
        return sorted({*exports, *own})

    return __getattr__, __dir__
