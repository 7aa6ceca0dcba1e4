"""BERT basic tokenisation (normalise, split on whitespace/punctuation/CJK) in core TF ops, with offsets.

It reproduces keras-hub's ``pretokenize`` (accent stripping = NFD minus ``\\p{Mn}``, RE2 split
classes, NFKC case folding) character by character, so it needs no tensorflow-text op and runs
inside a SavedModel that stock TF Serving loads. Each word carries the character (code point)
offsets of the ORIGINAL string it came from, so ``text[start:end]`` in Python is that word.

Known, documented difference from Unicode normalisation of whole words: composition across
characters (a base letter followed by a separate combining mark when accents are NOT stripped,
or loose Hangul jamo) is not applied; with ``strip_accents=True`` marks are removed first, so the
common BERT-uncased setting is exact.
"""

from __future__ import annotations

import functools
import itertools
import unicodedata
from typing import NamedTuple

import tensorflow as tf

# RE2 classes, as keras-hub's tensorflow-text path uses them.
DELIMITER_PATTERN = r"(?:\s|\p{Cc}|\p{Cf})+"
PUNCTUATION_PATTERN = r"[!-/]|[:-@]|[\[-`]|[{-~]|\p{P}"
CJK_PATTERN = "|".join(
    [
        r"[\x{4E00}-\x{9FFF}]",
        r"[\x{3400}-\x{4DBF}]",
        r"[\x{20000}-\x{2A6DF}]",
        r"[\x{2A700}-\x{2B73F}]",
        r"[\x{2B740}-\x{2B81F}]",
        r"[\x{2B820}-\x{2CEAF}]",
        r"[\x{F900}-\x{FAFF}]",
        r"[\x{2F800}-\x{2FA1F}]",
    ]
)
# Planes 3-13 and 15-16 hold no character whose NFD or NFKC case fold differs from itself.
_CODE_POINTS = [
    c for c in itertools.chain(range(0x30000), range(0xE0000, 0xE1000)) if not 0xD800 <= c <= 0xDFFF
]
_NO_ENTRY = "\x00\x00"  # a table miss: no real normalised form contains two NULs


class Words(NamedTuple):
    """Words of a batch of texts: ragged ``[batch, words]`` strings and character offsets."""

    words: tf.RaggedTensor
    starts: tf.RaggedTensor
    ends: tf.RaggedTensor


def _is_default_ignorable(char: str) -> bool:
    code = ord(char)
    return (
        unicodedata.category(char) == "Cf"
        or code in (0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x3164, 0xFFA0)
        or 0x180B <= code <= 0x180F
        or 0xFE00 <= code <= 0xFE0F
        or 0xE0100 <= code <= 0xE01EF
    )


def casefold_nfkc(text: str) -> str:
    """Python NFKC_Casefold (what ``tf_text.case_fold_utf8`` computes): NFKC, fold, NFKC, drop ignorables."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return "".join(c for c in folded if not _is_default_ignorable(c))


def strip_accents_python(text: str) -> str:
    """NFD, then drop non-spacing marks (``\\p{Mn}``), as BERT's accent stripping does."""
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


@functools.lru_cache(maxsize=4)
def normalisation_tables(
    lowercase: bool, strip_accents: bool
) -> tuple[dict[str, str], dict[str, str]]:
    """``(nfd_table, fold_table)``: per-character forms that differ from the character itself.

    ``nfd_table`` maps a character to its canonical decomposition (marks are removed in-graph with
    the RE2 ``\\p{Mn}`` class); ``fold_table`` maps an accent-stripped unit to its NFKC case fold.
    """
    nfd: dict[str, str] = {}
    fold: dict[str, str] = {}
    for code in _CODE_POINTS:
        char = chr(code)
        unit = char
        if strip_accents:
            decomposed = unicodedata.normalize("NFD", char)
            if decomposed != char:
                nfd[char] = decomposed
            unit = strip_accents_python(char)
        if lowercase and unit:
            folded = casefold_nfkc(unit)
            if folded != unit:
                fold[unit] = folded
    return nfd, fold


def _string_table(mapping: dict[str, str]) -> tf.lookup.StaticHashTable | None:
    if not mapping:
        return None
    keys, values = zip(*sorted(mapping.items()), strict=True)
    initializer = tf.lookup.KeyValueTensorInitializer(
        tf.constant(keys, tf.string), tf.constant(values, tf.string)
    )
    return tf.lookup.StaticHashTable(initializer, default_value=_NO_ENTRY)


def _map_units(table: tf.lookup.StaticHashTable | None, units: tf.Tensor) -> tf.Tensor:
    if table is None:
        return units
    mapped = table.lookup(units)
    return tf.where(tf.equal(mapped, _NO_ENTRY), units, mapped)


class BasicTokenizer(tf.Module):
    """Split raw text into words with character offsets (core TF ops only, export-safe)."""

    def __init__(
        self,
        lowercase: bool = True,
        strip_accents: bool = True,
        split_on_cjk: bool = True,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        self.lowercase = lowercase
        self.strip_accents = strip_accents
        self.split_on_cjk = split_on_cjk
        nfd, fold = normalisation_tables(lowercase, strip_accents)
        self._nfd_table = _string_table(nfd) if strip_accents else None
        self._fold_table = _string_table(fold) if lowercase else None
        self._single_pattern = (
            f"(?:{PUNCTUATION_PATTERN}|{CJK_PATTERN})"
            if split_on_cjk
            else f"(?:{PUNCTUATION_PATTERN})"
        )

    def __call__(self, texts: tf.Tensor) -> Words:
        """``texts``: 1-D ``tf.string`` (UTF-8). Invalid bytes decode to U+FFFD."""
        texts = tf.convert_to_tensor(texts, tf.string)
        units = tf.strings.unicode_split(texts, "UTF-8", errors="replace")  # [B, U] one char each
        row_ids = units.value_rowids()
        positions = tf.cast(tf.ragged.range(units.row_lengths()).flat_values, tf.int64)
        chars = units.flat_values
        if self.strip_accents:
            chars = tf.strings.regex_replace(_map_units(self._nfd_table, chars), r"\p{Mn}", "")
        is_delimiter = tf.strings.regex_full_match(chars, DELIMITER_PATTERN)
        is_single = tf.strings.regex_full_match(chars, self._single_pattern)
        # Empty units (lone marks removed by stripping) join whatever word they touch.
        previous_delim = tf.concat([[True], is_delimiter[:-1]], 0)
        previous_single = tf.concat([[True], is_single[:-1]], 0)
        row_start = tf.concat([[True], tf.not_equal(row_ids[1:], row_ids[:-1])], 0)
        starts_word = tf.logical_not(is_delimiter) & (
            is_single | previous_delim | previous_single | row_start
        )
        word_of_unit = tf.cumsum(tf.cast(starts_word, tf.int64)) - 1
        keep = tf.logical_not(is_delimiter)
        chars = tf.boolean_mask(chars, keep)
        if self.lowercase:
            chars = _map_units(self._fold_table, chars)
        word_ids = tf.boolean_mask(word_of_unit, keep)
        num_words = tf.reduce_sum(tf.cast(starts_word, tf.int64))
        words = tf.strings.unsorted_segment_join(chars, word_ids, num_words)
        starts = tf.math.unsorted_segment_min(tf.boolean_mask(positions, keep), word_ids, num_words)
        ends = (
            tf.math.unsorted_segment_max(tf.boolean_mask(positions, keep), word_ids, num_words) + 1
        )
        rows = tf.math.unsorted_segment_min(tf.boolean_mask(row_ids, keep), word_ids, num_words)
        non_empty = tf.strings.length(words) > 0
        nrows = tf.shape(texts, out_type=tf.int64)[0]

        def ragged(values: tf.Tensor) -> tf.RaggedTensor:
            return tf.RaggedTensor.from_value_rowids(
                tf.boolean_mask(values, non_empty), tf.boolean_mask(rows, non_empty), nrows=nrows
            )

        return Words(ragged(words), ragged(starts), ragged(ends))
