"""Checks on what people pass to ``predict``: strings only, not empty (where it matters), not huge."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def validate_texts(inputs: Any, max_chars: int, allow_empty: bool = False) -> tuple[list[str], bool]:
    """``"text"`` or a list of texts -> (list of str, whether a single string was given).

    Raises ``ValueError`` naming the offending item for non-strings, ``None``, undecodable bytes,
    empty texts (unless ``allow_empty``) and texts over ``max_chars`` characters.
    """
    single = isinstance(inputs, (str, bytes))
    if single:
        items = [inputs]
    elif isinstance(inputs, Iterable):
        items = list(inputs)
    else:
        raise ValueError(f"expected a string or a list of strings, got {type(inputs).__name__}")
    if not items:
        raise ValueError("predict needs at least one text, got an empty list")
    texts = []
    for i, item in enumerate(items):
        if isinstance(item, bytes):
            try:
                item = item.decode("utf-8")
            except UnicodeDecodeError as error:
                raise ValueError(f"text {i} is not valid UTF-8") from error
        if not isinstance(item, str):
            raise ValueError(f"text {i} is {type(item).__name__}, not a string")
        if not allow_empty and not item.strip():
            raise ValueError(f"text {i} is empty; there is nothing to classify")
        if len(item) > max_chars:
            raise ValueError(
                f"text {i} has {len(item):,} characters, over the limit of {max_chars:,} (max_chars); "
                "split long documents before predicting"
            )
        texts.append(item)
    return texts, single
