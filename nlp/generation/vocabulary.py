"""Character vocabulary for text generation, in and out of the graph with core ops only.

Every distinct character of the training text gets an id after ``[PAD]`` (0) and ``[UNK]`` (1);
tokenising is ``tf.strings.unicode_split`` plus a ``tf.lookup`` table and detokenising a
``tf.gather`` plus ``tf.strings.reduce_join``, so an exported graph needs nothing beyond stock
TensorFlow (TF Serving included). Characters keep everything a generator must reproduce:
case, spaces, line breaks, punctuation. Unknown characters map to ``[UNK]``, which the
generator never emits.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import tensorflow as tf

PAD, UNK = "[PAD]", "[UNK]"
SPECIAL_TOKENS = (PAD, UNK)


def learn_characters(texts: Iterable[str], max_size: int | None = None) -> list[str]:
    """``[PAD], [UNK]`` then the characters of ``texts``, most frequent first (ties by code
    point); ``max_size`` caps the whole vocabulary, the rarest characters becoming ``[UNK]``."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(text)
    if not counts:
        raise ValueError("cannot learn a vocabulary: the text is empty")
    characters = sorted(counts, key=lambda c: (-counts[c], c))
    if max_size is not None:
        if max_size < len(SPECIAL_TOKENS) + 1:
            raise ValueError(f"max_size must be at least 3, got {max_size}")
        characters = characters[: max_size - len(SPECIAL_TOKENS)]
    return [*SPECIAL_TOKENS, *characters]


class CharVocabulary(tf.Module):
    """Strings <-> character ids (``tf.Module``: the table travels with an exported graph)."""

    def __init__(self, vocabulary: Sequence[str]) -> None:
        super().__init__()
        vocabulary = list(vocabulary)
        if vocabulary[: len(SPECIAL_TOKENS)] != list(SPECIAL_TOKENS):
            raise ValueError(f"a character vocabulary starts with {SPECIAL_TOKENS}")
        characters = vocabulary[len(SPECIAL_TOKENS) :]
        if any(len(c) != 1 for c in characters) or len(set(characters)) != len(characters):
            raise ValueError("a character vocabulary holds distinct single characters")
        self.vocabulary = vocabulary
        self.pad_id, self.unk_id = 0, 1
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(characters, tf.string),
                tf.range(len(SPECIAL_TOKENS), len(vocabulary), dtype=tf.int32),
            ),
            default_value=self.unk_id,
        )
        # Specials detokenise to nothing.
        self.strings = tf.constant(["", "", *characters], tf.string)

    @property
    def size(self) -> int:
        return len(self.vocabulary)

    def token_id(self, character: str, default: int | None = None) -> int:
        """Id of one character (``default``, else ``[UNK]``, when it is not in the vocabulary)."""
        try:
            return self.vocabulary.index(character, len(SPECIAL_TOKENS))
        except ValueError:
            return self.unk_id if default is None else default

    def encode(self, texts: tf.Tensor) -> tf.RaggedTensor:
        """Strings ``[B]`` -> ragged int32 ids ``[B, (chars)]`` (bad UTF-8 replaced, not fatal)."""
        characters = tf.strings.unicode_split(
            tf.convert_to_tensor(texts, tf.string), "UTF-8", errors="replace"
        )
        return tf.ragged.map_flat_values(self.table.lookup, characters)

    def encode_text(self, text: str) -> tf.Tensor:
        """One long text -> a flat int32 id vector (the training corpus)."""
        return self.encode(tf.constant([text])).flat_values

    def decode(self, ids: tf.Tensor) -> tf.Tensor:
        """Ids ``[B, T]`` (dense or ragged) -> strings ``[B]``."""
        return tf.strings.reduce_join(tf.gather(self.strings, ids), axis=-1)

    def count_tokens(self, text: str) -> int:
        """How many ids ``text`` becomes (one per character)."""
        return len(text)
