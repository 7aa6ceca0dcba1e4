"""Scoring a tagger on raw text: detokenise gold CoNLL tokens, align entities back by offsets.

A served client sends raw sentences, not CoNLL tokens. ``detokenize`` turns gold tokens into the
text a person would type ("Germany 's" -> "Germany's", "( Reuters )" -> "(Reuters)",
"3.5 %" -> "3.5%"), remembering each token's character span; ``tags_from_entities`` turns the
entities predicted on that text (character offsets) back into IOB2 tags on the gold tokens: a
gold token takes an entity's label when its span lies inside the entity's span, the first such
token of an entity gets ``B-``. A word split that differs from the gold tokens therefore costs
exactly what it costs a served client.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: Tokens written with no space before them.
NO_SPACE_BEFORE = frozenset(
    {
        ",",
        ".",
        ":",
        ";",
        "?",
        "!",
        ")",
        "]",
        "}",
        "%",
        "'s",
        "'S",
        "n't",
        "'re",
        "'ve",
        "'ll",
        "'m",
        "'d",
    }
)
#: Tokens written with no space after them.
NO_SPACE_AFTER = frozenset({"(", "[", "{", "$"})


def detokenize(tokens: Sequence[str]) -> tuple[str, list[tuple[int, int]]]:
    """``(text, spans)``: the tokens as typed text and each token's ``[start, end)`` in it."""
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    position = 0
    for i, token in enumerate(tokens):
        if i and token not in NO_SPACE_BEFORE and tokens[i - 1] not in NO_SPACE_AFTER:
            parts.append(" ")
            position += 1
        spans.append((position, position + len(token)))
        parts.append(token)
        position += len(token)
    return "".join(parts), spans


def tags_from_entities(
    spans: Sequence[tuple[int, int]], entities: Sequence[dict[str, Any]]
) -> list[str]:
    """IOB2 tags of the gold tokens (``spans``) from entities with character offsets."""
    tags = ["O"] * len(spans)
    for entity in sorted(entities, key=lambda e: e["start"]):
        inside = [
            i
            for i, (start, end) in enumerate(spans)
            if start >= entity["start"] and end <= entity["end"]
        ]
        for k, i in enumerate(inside):
            if tags[i] == "O":
                tags[i] = ("B-" if k == 0 else "I-") + entity["label"]
    return tags
