"""Train a WordPiece vocabulary from a corpus (keras-hub's trainer; never part of a graph)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import tensorflow as tf

from nlp.tokenization.wordpiece import SPECIAL_TOKENS, UNK, WordPieceTokenizer


def train_vocabulary(
    texts: Iterable[str],
    vocabulary_size: int = 8000,
    lowercase: bool = True,
    strip_accents: bool = True,
    special_tokens: Sequence[str] = SPECIAL_TOKENS,
) -> list[str]:
    """WordPiece vocabulary learned from ``texts``; ``special_tokens`` come first ([PAD] is id 0).

    Uses ``keras_hub.tokenizers.compute_word_piece_vocabulary`` (tensorflow-text), which is fine
    at training time: only the resulting list of tokens goes into exported graphs.
    """
    from keras_hub.tokenizers import compute_word_piece_vocabulary

    texts = [str(t) for t in texts]
    if not texts:
        raise ValueError("cannot train a vocabulary from an empty corpus")
    if vocabulary_size < len(special_tokens) + 1:
        raise ValueError(f"vocabulary_size must exceed the {len(special_tokens)} special tokens")
    if UNK not in special_tokens:
        raise ValueError(f"special_tokens must include the unknown token {UNK}")
    vocabulary = compute_word_piece_vocabulary(
        tf.data.Dataset.from_tensor_slices(texts).batch(1000),
        vocabulary_size,
        lowercase=lowercase,
        strip_accents=strip_accents,
        reserved_tokens=list(special_tokens),
    )
    return list(vocabulary)


def train_tokenizer(
    texts: Iterable[str],
    vocabulary_size: int = 8000,
    lowercase: bool = True,
    strip_accents: bool = True,
) -> WordPieceTokenizer:
    """A ``WordPieceTokenizer`` with a vocabulary trained on ``texts``."""
    vocabulary = train_vocabulary(texts, vocabulary_size, lowercase, strip_accents)
    return WordPieceTokenizer(vocabulary, lowercase=lowercase, strip_accents=strip_accents)
