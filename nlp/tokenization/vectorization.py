"""Word- and character-level vectorisers built on ``keras.layers.TextVectorization`` (core ops).

Used where a full WordPiece model is more than needed: bag-of-words baselines and the character
features of the entity tagger. Their vocabularies are plain lists, stored in task state.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import keras
import tensorflow as tf


def _vectorizer(
    samples: Iterable[str] | None,
    vocabulary: Sequence[str] | None,
    missing: str,
    **options: object,
) -> keras.layers.TextVectorization:
    """An int-id ``TextVectorization`` with ``options``: given ``vocabulary``, or adapted on
    ``samples``; with neither, ``ValueError(missing)``."""
    layer = keras.layers.TextVectorization(
        output_mode="int",
        vocabulary=list(vocabulary) if vocabulary is not None else None,
        **options,
    )
    if vocabulary is None:
        if samples is None:
            raise ValueError(missing)
        layer.adapt(tf.constant([str(s) for s in samples]))
    return layer


def word_vectorizer(
    texts: Iterable[str] | None = None,
    max_tokens: int = 20000,
    sequence_length: int | None = 64,
    vocabulary: Sequence[str] | None = None,
) -> keras.layers.TextVectorization:
    """Lower-cased, punctuation-stripped word ids; adapted on ``texts`` or given a
    ``vocabulary``."""
    return _vectorizer(
        texts,
        vocabulary,
        "word_vectorizer needs texts to adapt on or a vocabulary",
        max_tokens=max_tokens,
        standardize="lower_and_strip_punctuation",
        split="whitespace",
        output_sequence_length=sequence_length,
    )


def char_vectorizer(
    words: Iterable[str] | None = None,
    max_chars: int = 16,
    max_tokens: int = 300,
    vocabulary: Sequence[str] | None = None,
) -> keras.layers.TextVectorization:
    """Case-preserving character ids of single words, padded/truncated to ``max_chars``."""
    return _vectorizer(
        words,
        vocabulary,
        "char_vectorizer needs words to adapt on or a vocabulary",
        max_tokens=max_tokens,
        standardize=None,
        split="character",
        output_sequence_length=max_chars,
    )
