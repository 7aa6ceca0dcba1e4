"""Words -> tagger inputs, in graph (core ops): word ids + character ids, or word pieces +
alignment.

``WordFeatures`` serves the from-scratch BiLSTM-CRF tagger (lower-cased word lookup with digits
folded to 0, case-preserving character ids via ``TextVectorization``); ``PieceFeatures`` serves
the pretrained backbone (WordPiece per word, ``[CLS] ... [SEP]`` packing, the index of each
word's first piece and a casing class per word, which an uncased backbone cannot see). Both
return the number of words that fit, so labels and decoding agree.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import tensorflow as tf

from nlp.text_encoding import TextPacker
from nlp.tokenization import WordPieceTokenizer, char_vectorizer


def normalise_word(words: tf.Tensor) -> tf.Tensor:
    """Lower-case (Unicode) and fold digits to 0: the key of the word vocabulary."""
    return tf.strings.regex_replace(tf.strings.lower(words, encoding="utf-8"), r"\d", "0")


def build_word_vocabulary(
    sentences: Sequence[Sequence[str]], max_size: int, min_count: int = 1
) -> list[str]:
    """Most frequent normalised words (computed with the same graph op used at serving)."""
    flat = [w for s in sentences for w in s]
    if not flat:
        raise ValueError("cannot build a word vocabulary from no words")
    keys = [k.decode("utf-8") for k in normalise_word(tf.constant(flat)).numpy()]
    counts = Counter(keys)
    return [w for w, c in counts.most_common(max_size) if c >= min_count]


def build_char_vocabulary(sentences: Sequence[Sequence[str]], max_chars: int) -> list[str]:
    words = sorted({w for s in sentences for w in s})
    return [str(c) for c in char_vectorizer(words, max_chars=max_chars).get_vocabulary()]


class WordFeatures(tf.Module):
    """Ragged words ``[B, W]`` -> ``{"word_ids", "char_ids"}`` padded to ``max_words``."""

    def __init__(self, words: list[str], chars: list[str], max_words: int, max_chars: int) -> None:
        super().__init__()
        self.max_words, self.max_chars = max_words, max_chars
        # 0 = padding, 1 = unknown word, 2.. = vocabulary
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(words or [""], tf.string),
                tf.range(2, 2 + max(len(words), 1), dtype=tf.int64),
            ),
            default_value=1,
        )
        self.chars = char_vectorizer(vocabulary=chars, max_chars=max_chars)

    def __call__(self, words: tf.RaggedTensor) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
        words = words[:, : self.max_words]
        flat = words.flat_values
        word_ids = words.with_flat_values(
            tf.cast(self.table.lookup(normalise_word(flat)), tf.int32)
        )
        char_ids = words.with_flat_values(tf.cast(self.chars(flat), tf.int32))
        shape = [None, self.max_words]
        features = {
            "word_ids": word_ids.to_tensor(0, shape=shape),
            "char_ids": char_ids.to_tensor(0, shape=[None, self.max_words, self.max_chars]),
        }
        return features, tf.cast(words.row_lengths(), tf.int32)


#: Casing classes of a word (0 is padding): what an uncased backbone loses and NER needs.
CASE_CLASSES = ("pad", "lower", "capitalised", "upper", "has_digit", "other")


def word_casing(words: tf.Tensor) -> tf.Tensor:
    """Casing class id (see ``CASE_CLASSES``) of each word, with core regex ops on Unicode
    classes."""
    rules = [  # first match wins
        (r".*\p{Nd}.*", 4),
        (r"\p{Lu}[\p{Lu}.&'-]+", 3),
        (r"\p{Lu}.*", 2),
        (r"\p{Ll}.*", 1),
    ]
    case = tf.fill(tf.shape(words), 5)
    for pattern, value in reversed(rules):
        case = tf.where(tf.strings.regex_full_match(words, pattern), value, case)
    return case


class PieceFeatures(tf.Module):
    """Ragged words ``[B, W]`` -> packed word pieces plus ``word_index`` (first piece of each
    word)."""

    def __init__(
        self,
        tokenizer: WordPieceTokenizer,
        sequence_length: int,
        max_words: int,
        with_casing: bool = True,
    ) -> None:
        super().__init__()
        self.tokenizer, self.max_words, self.with_casing = tokenizer, max_words, with_casing
        self.packer = TextPacker(tokenizer, sequence_length, max_chars=10**9)

    def __call__(self, words: tf.RaggedTensor) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
        words = words[:, : self.max_words]
        flat = words.flat_values
        # Normalise each word as the tokenizer would (casing, accents), keeping one unit per word.
        normalised = tf.strings.reduce_join(self.tokenizer.basic(flat).words, axis=1)
        ids, _, _ = self.tokenizer.encode_words(normalised)
        pieces_per_word = ids.row_lengths()
        # Every word contributes at least one piece (a word normalised to nothing becomes [UNK]).
        empty = tf.cast(tf.equal(pieces_per_word, 0), tf.int64)
        filler = tf.fill([tf.reduce_sum(empty)], tf.constant(self.tokenizer.oov_id, tf.int64))
        ids = tf.concat([ids, tf.RaggedTensor.from_row_lengths(filler, empty)], axis=1)
        per_text = words.with_flat_values(ids)  # [B, W, P]
        first_piece = (
            tf.cumsum(per_text.row_lengths(axis=2), axis=1, exclusive=True) + 1
        )  # after [CLS]
        limit = self.packer.sequence_length - 1  # [SEP] sits at the end
        fits = first_piece < limit
        lengths = tf.reduce_sum(tf.cast(fits, tf.int32), axis=1)
        packed = self.packer.pack_ids(per_text.merge_dims(1, 2))
        word_index = first_piece * tf.cast(fits, first_piece.dtype)
        packed["word_index"] = tf.cast(
            word_index.to_tensor(0, shape=[None, self.max_words]), tf.int32
        )
        if self.with_casing:
            casing = words.with_flat_values(word_casing(flat)) * tf.cast(fits, tf.int32)
            packed["word_case"] = casing.to_tensor(0, shape=[None, self.max_words])
        return packed, lengths
