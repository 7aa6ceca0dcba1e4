"""WordPiece tokenisation (greedy longest-match-first) in core TF ops, with character offsets.

``WordPieceTokenizer`` gives the same token ids as ``keras_hub.tokenizers.WordPieceTokenizer``
for the same vocabulary and options, but uses only ``tf.strings`` / ``tf.lookup`` / ragged ops,
so it can live inside an exported serving graph (keras-hub's needs tensorflow-text ops that stock
TF Serving lacks). Every token also carries the character span of the original text it covers.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import tensorflow as tf

from nlp.tokenization.basic import BasicTokenizer, Words

MAX_BYTES_PER_WORD = 100
PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
SPECIAL_TOKENS = (PAD, UNK, CLS, SEP, MASK)


class Encoding(NamedTuple):
    """Token ids of a batch of texts (ragged ``[batch, tokens]``) with their provenance.

    ``starts``/``ends`` are character offsets into the original text; ``word_ids`` is the index
    of the word (of ``words``) each token belongs to, for word-level labels.
    """

    ids: tf.RaggedTensor
    starts: tf.RaggedTensor
    ends: tf.RaggedTensor
    word_ids: tf.RaggedTensor
    words: Words


def load_vocabulary(source: str | os.PathLike | Iterable[str]) -> list[str]:
    """A vocabulary as a list of tokens, from a ``vocab.txt`` (one token a line) or a list."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise ValueError(f"vocabulary file not found: {path}")
        tokens = path.read_text(encoding="utf-8").splitlines()
    else:
        tokens = [str(t) for t in source]
    if not tokens:
        raise ValueError("the vocabulary is empty")
    if len(set(tokens)) != len(tokens):
        seen: set[str] = set()
        duplicates = sorted({t for t in tokens if t in seen or seen.add(t)})
        raise ValueError(f"the vocabulary has duplicate tokens, e.g. {duplicates[:5]}")
    return tokens


class WordPieceTokenizer(tf.Module):
    """Raw strings -> WordPiece ids (+ offsets) and back, export-safe.

    Options mirror keras-hub's ``WordPieceTokenizer``: ``lowercase``, ``strip_accents``,
    ``split_on_cjk``, ``suffix_indicator``, ``oov_token``. Special tokens in input strings are
    treated as ordinary text (keras-hub's default ``special_tokens_in_strings=False``).
    """

    def __init__(
        self,
        vocabulary: str | os.PathLike | Sequence[str],
        lowercase: bool = True,
        strip_accents: bool = True,
        split_on_cjk: bool = True,
        suffix_indicator: str = "##",
        oov_token: str = UNK,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        self.vocabulary = load_vocabulary(vocabulary)
        if oov_token not in self.vocabulary:
            raise ValueError(f"the vocabulary has no out-of-vocabulary token {oov_token!r}")
        self.lowercase, self.strip_accents, self.split_on_cjk = (
            lowercase,
            strip_accents,
            split_on_cjk,
        )
        self.suffix_indicator, self.oov_token = suffix_indicator, oov_token
        self._index = {token: i for i, token in enumerate(self.vocabulary)}
        self.oov_id = self._index[oov_token]
        self.basic = BasicTokenizer(lowercase, strip_accents, split_on_cjk)
        self._token_to_id = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(self.vocabulary), tf.range(len(self.vocabulary), dtype=tf.int64)
            ),
            default_value=-1,
        )
        self._id_to_token = tf.constant(self.vocabulary)
        special = [
            i
            for t, i in self._index.items()
            if t != oov_token and (t in SPECIAL_TOKENS or (t.startswith("[") and t.endswith("]")))
        ]
        self._special_ids = tf.constant(sorted(special) or [-1], tf.int64)
        self._compiled_tokenize = tf.function(
            self.tokenize, input_signature=[tf.TensorSpec([None], tf.string)], autograph=False
        )

    # ------------------------------------------------------------------ vocabulary helpers
    def vocabulary_size(self) -> int:
        return len(self.vocabulary)

    def token_to_id(self, token: str) -> int:
        if token not in self._index:
            raise ValueError(f"token {token!r} is not in the vocabulary")
        return self._index[token]

    def id_to_token(self, token_id: int) -> str:
        if not 0 <= token_id < len(self.vocabulary):
            raise ValueError(
                f"id {token_id} is outside the vocabulary [0, {len(self.vocabulary) - 1}]"
            )
        return self.vocabulary[token_id]

    def special_token_id(self, token: str, default: int | None = None) -> int:
        """Id of a special token such as ``[CLS]``; ``default`` when absent (error if None)."""
        if token in self._index:
            return self._index[token]
        if default is None:
            raise ValueError(f"the vocabulary has no {token} token")
        return default

    def get_config(self) -> dict[str, Any]:
        return {
            "lowercase": self.lowercase,
            "strip_accents": self.strip_accents,
            "split_on_cjk": self.split_on_cjk,
            "suffix_indicator": self.suffix_indicator,
            "oov_token": self.oov_token,
        }

    # ------------------------------------------------------------------ the algorithm
    def encode_words(
        self, words: tf.Tensor
    ) -> tuple[tf.RaggedTensor, tf.RaggedTensor, tf.RaggedTensor]:
        """Flat normalised words ``[W]`` -> ragged piece ids ``[W, P]`` and piece char spans in the
        word."""
        words = tf.convert_to_tensor(words, tf.string)
        chars = tf.strings.unicode_split(words, "UTF-8", errors="replace")
        lengths = tf.cast(chars.row_lengths(), tf.int32)
        too_long = tf.strings.length(words) > MAX_BYTES_PER_WORD
        lengths = tf.where(too_long, tf.zeros_like(lengths), lengths)
        max_len = tf.reduce_max(tf.concat([lengths, [1]], 0))
        widths = tf.range(1, max_len + 1)  # candidate piece lengths
        num_words = tf.shape(words)[0]
        tiled_words = tf.tile(words[:, tf.newaxis], [1, max_len])
        suffix = tf.constant(self.suffix_indicator)

        def step(position, failed, ids_array, starts_array, sizes_array, emitted_array, i):
            active = (position < lengths) & tf.logical_not(failed)
            start = tf.tile(position[:, tf.newaxis], [1, max_len])
            pieces = tf.strings.substr(
                tiled_words, start, tf.broadcast_to(widths, tf.shape(start)), unit="UTF8_CHAR"
            )
            pieces = tf.where(start > 0, tf.strings.join([suffix, pieces]), pieces)
            ids = self._token_to_id.lookup(pieces)
            fits = widths[tf.newaxis, :] <= (lengths - position)[:, tf.newaxis]
            found = (ids >= 0) & fits
            best = tf.reduce_max(tf.where(found, widths[tf.newaxis, :], 0), axis=1)
            best_id = tf.gather(ids, tf.maximum(best - 1, 0), batch_dims=1)
            ok = active & (best > 0)
            failed = failed | (active & tf.equal(best, 0))
            ids_array = ids_array.write(i, best_id)
            starts_array = starts_array.write(i, position)
            sizes_array = sizes_array.write(i, best)
            emitted_array = emitted_array.write(i, ok)
            position = tf.where(ok, position + best, position)
            return [position, failed, ids_array, starts_array, sizes_array, emitted_array, i + 1]

        def keep_going(position, failed, *_):
            return tf.reduce_any((position < lengths) & tf.logical_not(failed))

        arrays = [
            tf.TensorArray(dtype, size=0, dynamic_size=True, element_shape=[None])
            for dtype in (tf.int64, tf.int32, tf.int32, tf.bool)
        ]
        _, failed, *arrays, _ = tf.while_loop(
            keep_going,
            step,
            [tf.zeros([num_words], tf.int32), tf.zeros([num_words], tf.bool), *arrays, 0],
            maximum_iterations=MAX_BYTES_PER_WORD + 1,
        )

        def stacked(array: tf.TensorArray, dtype) -> tf.Tensor:
            value = tf.cond(
                array.size() > 0,
                lambda: tf.transpose(array.stack()),
                lambda: tf.zeros([num_words, 0], dtype),
            )
            return tf.pad(value, [[0, 0], [0, 1]])  # room for the [UNK] of a failed word

        ids, piece_starts, piece_sizes, emitted = (
            stacked(a, d)
            for a, d in zip(arrays, (tf.int64, tf.int32, tf.int32, tf.bool), strict=True)
        )
        unknown = failed | too_long | tf.equal(lengths, 0) & (tf.strings.length(words) > 0)
        first_column = tf.equal(tf.range(tf.shape(ids)[1])[tf.newaxis, :], 0)
        emitted = tf.where(unknown[:, tf.newaxis], first_column, emitted)
        ids = tf.where(unknown[:, tf.newaxis], tf.constant(self.oov_id, tf.int64), ids)
        full = tf.cast(tf.strings.length(words, unit="UTF8_CHAR"), tf.int32)
        piece_starts = tf.where(unknown[:, tf.newaxis], 0, piece_starts)
        piece_ends = tf.where(
            unknown[:, tf.newaxis], full[:, tf.newaxis], piece_starts + piece_sizes
        )
        return (
            tf.ragged.boolean_mask(ids, emitted),
            tf.ragged.boolean_mask(piece_starts, emitted),
            tf.ragged.boolean_mask(piece_ends, emitted),
        )

    def encode(self, texts: tf.Tensor) -> Encoding:
        """Raw texts ``[B]`` -> ``Encoding`` (ragged ids with original-text character offsets)."""
        words = self.basic(texts)
        return self.encode_split(words)

    def encode_split(self, words: Words) -> Encoding:
        """Encode words that are already split (e.g. CoNLL tokens) keeping their offsets."""
        flat = words.words.flat_values
        ids, piece_starts, piece_ends = self.encode_words(flat)
        word_starts = words.starts.flat_values
        word_ends = words.ends.flat_values
        spans = word_ends - word_starts
        normalised = tf.cast(tf.strings.length(flat, unit="UTF8_CHAR"), tf.int64)
        # Map piece spans inside the normalised word back onto the original characters: exact
        # when normalisation keeps the length, proportional otherwise; words keep their ends.
        scale = tf.cast(spans, tf.float64) / tf.cast(tf.maximum(normalised, 1), tf.float64)
        piece_word = ids.value_rowids()

        def to_original(offsets: tf.RaggedTensor) -> tf.Tensor:
            relative = tf.cast(offsets.flat_values, tf.float64) * tf.gather(scale, piece_word)
            return tf.gather(word_starts, piece_word) + tf.cast(tf.round(relative), tf.int64)

        starts = to_original(piece_starts)
        ends = to_original(piece_ends)
        is_first = tf.equal(piece_starts.flat_values, 0)
        row_lengths = ids.row_lengths()
        last_index = tf.cumsum(row_lengths) - 1
        is_last = tf.scatter_nd(
            last_index[row_lengths > 0][:, tf.newaxis],
            tf.ones_like(last_index[row_lengths > 0], tf.bool),
            tf.shape(piece_word, out_type=tf.int64),
        )
        starts = tf.where(is_first, tf.gather(word_starts, piece_word), starts)
        ends = tf.where(is_last, tf.gather(word_ends, piece_word), ends)
        # Re-nest per text: [B, W, P] -> [B, T].
        text_splits = words.words.row_splits
        token_splits = tf.gather(ids.row_splits, text_splits)
        word_in_text = piece_word - tf.gather(
            text_splits, tf.gather(words.words.value_rowids(), piece_word)
        )

        def per_text(values: tf.Tensor) -> tf.RaggedTensor:
            return tf.RaggedTensor.from_row_splits(values, token_splits, validate=False)

        return Encoding(
            per_text(ids.flat_values),
            per_text(starts),
            per_text(ends),
            per_text(word_in_text),
            words,
        )

    def tokenize(self, texts: tf.Tensor) -> tf.RaggedTensor:
        """Raw texts ``[B]`` -> ragged token ids ``[B, T]`` (int64)."""
        return self.encode(texts).ids

    def detokenize(self, ids: tf.Tensor | tf.RaggedTensor) -> tf.Tensor:
        """Ids -> text: pieces joined with spaces, ``##`` suffixes glued, special tokens dropped."""
        if not isinstance(ids, tf.RaggedTensor):
            ids = tf.RaggedTensor.from_tensor(tf.convert_to_tensor(ids))
        ids = tf.cast(ids, tf.int64)
        keep = tf.reduce_all(
            tf.not_equal(ids.flat_values[:, tf.newaxis], self._special_ids[tf.newaxis, :]), 1
        )
        keep &= (ids.flat_values >= 0) & (ids.flat_values < len(self.vocabulary))
        ids = tf.ragged.boolean_mask(ids, ids.with_flat_values(keep))
        tokens = ids.with_flat_values(tf.gather(self._id_to_token, ids.flat_values))
        joined = tf.strings.reduce_join(tokens, axis=-1, separator=" ")
        return tf.strings.regex_replace(joined, " " + _re2_escape(self.suffix_indicator), "")

    # ------------------------------------------------------------------ Python conveniences
    def __call__(self, texts: str | Sequence[str]) -> list[list[int]] | list[int]:
        """Python strings -> lists of ids (one list for one string)."""
        single = isinstance(texts, str)
        ids = self._compiled_tokenize(
            tf.constant([texts] if single else list(texts), tf.string)
        ).to_list()
        return ids[0] if single else ids

    def decode(self, ids: Sequence[int] | Sequence[Sequence[int]]) -> str | list[str]:
        """Lists of ids -> strings (inverse of ``__call__`` up to normalisation and spacing)."""
        nested = bool(ids) and isinstance(ids[0], (list, tuple, np.ndarray))
        batch = tf.ragged.constant([list(i) for i in ids] if nested else [list(ids)], tf.int64)
        out = [t.decode("utf-8") for t in self.detokenize(batch).numpy()]
        return out if nested else out[0]


def _re2_escape(text: str) -> str:
    return "".join("\\" + c if not c.isalnum() else c for c in text)
