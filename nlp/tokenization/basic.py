"""BERT basic tokenisation (normalise, split on whitespace/punctuation/CJK) in core TF ops, with
offsets.

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
from collections.abc import Sequence
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
    """Python NFKC_Casefold (what ``tf_text.case_fold_utf8`` computes): NFKC, fold, NFKC, drop
    ignorables."""
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


SPLIT_STYLES = ("bert", "conll")
APOSTROPHES = "'\u2019"


class BasicTokenizer(tf.Module):
    """Split raw text into words with character offsets (core TF ops only, export-safe).

    ``split_style="bert"`` (the default) splits at every punctuation character, exactly as
    keras-hub / BERT do. ``split_style="conll"`` reproduces CoNLL-2003 / Penn-style tokens:

    - a hyphen between two letters or digits stays inside the word ("Jean-Luc", "AL-AIN", "1-0",
      "1996-08-30"); so does ``&`` between two letters ("AT&T") and ``/`` between two digits;
    - ``.``, ``,`` and ``:`` between two digits stay inside the number ("3.5", "1,000", "4:08.22"),
      and so does a ``.`` before digits that follow no letter or digit (".496"); a ``.`` after a
      number that starts the text is the list number "1." of results tables;
    - ``.`` between two letters, and a ``.`` closing such a run, stay inside the word ("U.S.",
      "e.g."); a ``.`` after a lone capital letter stays with it (the initial "F.");
    - an apostrophe between two letters stays inside the word ("O'Neil"), except the clitics,
      which are words of their own as in CoNLL: "Germany's" is "Germany" + "'s" (also 'm 'd 've
      're 'll), "didn't" is "did" + "n't";
    - a run of hyphens or periods is one word ("--", "...");
    - a ``.`` right after a word listed in ``abbreviations`` joins it ("Mr." with
      ``abbreviations=["Mr"]``); a sentence-final period after any other word is its own token;
    - every other punctuation character is its own word, as in the default style.
    """

    def __init__(
        self,
        lowercase: bool = True,
        strip_accents: bool = True,
        split_on_cjk: bool = True,
        split_style: str = "bert",
        abbreviations: Sequence[str] = (),
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        if split_style not in SPLIT_STYLES:
            raise ValueError(f"split_style must be one of {SPLIT_STYLES}, got {split_style!r}")
        self.lowercase = lowercase
        self.strip_accents = strip_accents
        self.split_on_cjk = split_on_cjk
        self.split_style = split_style
        self.abbreviations = sorted({str(a) for a in abbreviations if a})
        self._abbreviation_table = (
            tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(
                    tf.constant(self.abbreviations, tf.string),
                    tf.ones([len(self.abbreviations)], tf.int64),
                ),
                default_value=0,
            )
            if self.abbreviations and split_style == "conll"
            else None
        )
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
        row_start = tf.concat([[True], tf.not_equal(row_ids[1:], row_ids[:-1])], 0)
        glued = forced = tf.zeros_like(is_single)
        if self.split_style == "conll":
            is_single, glued, forced = self._conll_rules(chars, row_ids, is_single)
        # Empty units (lone marks removed by stripping) join whatever word they touch.
        previous_delim = tf.concat([[True], is_delimiter[:-1]], 0)
        previous_single = tf.concat([[True], is_single[:-1]], 0)
        starts_word = tf.logical_not(is_delimiter) & (
            ((is_single | previous_delim | previous_single) & tf.logical_not(glued))
            | forced
            | row_start
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
        if self._abbreviation_table is not None:
            words, starts, ends, rows, non_empty = self._join_abbreviations(
                words, starts, ends, rows, non_empty
            )
        nrows = tf.shape(texts, out_type=tf.int64)[0]

        def ragged(values: tf.Tensor) -> tf.RaggedTensor:
            return tf.RaggedTensor.from_value_rowids(
                tf.boolean_mask(values, non_empty), tf.boolean_mask(rows, non_empty), nrows=nrows
            )

        return Words(ragged(words), ragged(starts), ragged(ends))

    def _conll_rules(
        self, chars: tf.Tensor, row_ids: tf.Tensor, is_single: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """CoNLL style: ``(is_single, glued, starts)`` after the rules in the class docstring.

        ``glued`` units never start a word; ``starts`` units always do (the "n" of "n't").
        """
        size = tf.size(row_ids)

        def shift(values: tf.Tensor, k: int) -> tf.Tensor:
            """``values[i - k]`` when that unit exists in the same text, else False."""
            n = abs(k)
            pad_rows = tf.fill([n], tf.constant(-1, row_ids.dtype))
            pad = tf.zeros([n], tf.bool)
            if k > 0:
                moved, rows = tf.concat([pad, values], 0), tf.concat([pad_rows, row_ids], 0)
            else:
                moved, rows = tf.concat([values, pad], 0), tf.concat([row_ids, pad_rows], 0)
            start = 0 if k > 0 else n
            moved, rows = moved[start : start + size], rows[start : start + size]
            return moved & tf.equal(rows, row_ids)

        def match(pattern: str) -> tf.Tensor:
            return tf.strings.regex_full_match(chars, pattern)

        letter, digit = match(r"\p{L}"), match(r"\p{Nd}")
        alnum, upper = letter | match(r"\p{N}"), match(r"\p{Lu}")
        apostrophe = match(f"[{APOSTROPHES}]")
        dot, hyphen = tf.equal(chars, "."), tf.equal(chars, "-")
        exists = tf.ones_like(letter)
        not_ = tf.logical_not
        # Clitics split off the word before them: 's 'm 'd 've 're 'll and n't.
        one = match("[sSmMdD]") & not_(shift(letter, -1))
        two = (
            (match("[vV]") & shift(match("[eE]"), -1))
            | (match("[rR]") & shift(match("[eE]"), -1))
            | (match("[lL]") & shift(match("[lL]"), -1))
        ) & not_(shift(letter, -2))
        clitic_apostrophe = apostrophe & shift(letter, 1) & (shift(one, -1) | shift(two, -1))
        not_n = (
            match("[nN]")
            & shift(letter, 1)
            & shift(apostrophe, -1)
            & shift(match("[tT]"), -2)
            & not_(shift(letter, -3))
        )
        glued = letter & (
            shift(clitic_apostrophe, 1) | (shift(clitic_apostrophe, 2) & shift(letter, 1))
        )
        glued = glued | shift(not_n, 1) | shift(not_n, 2)  # the "'t" of "n't"
        # A digit run at the start of a text, then ".": the list number "1." of results tables.
        leading_number = digit & not_(shift(exists, 1))
        for _ in range(2):
            leading_number = leading_number | (digit & shift(leading_number, 1))
        keep = (
            (hyphen & shift(alnum, 1) & shift(alnum, -1))
            | (tf.equal(chars, "&") & shift(letter, 1) & shift(letter, -1))
            | (tf.equal(chars, "/") & shift(digit, 1) & shift(digit, -1))
            | (match("[.,:]") & shift(digit, 1) & shift(digit, -1))
            | (dot & shift(digit, -1) & not_(shift(alnum, 1)))  # ".496"
            | (dot & shift(leading_number, 1) & not_(shift(alnum, -1)))
            | (dot & shift(letter, 1) & shift(letter, -1))
            | (dot & shift(letter, 1) & shift(dot, 2) & not_(shift(alnum, -1)))
            | (dot & shift(upper, 1) & not_(shift(alnum | dot, 2)))
            | (apostrophe & shift(letter, 1) & shift(letter, -1) & not_(clitic_apostrophe))
        )
        # Runs of the same mark ("--", "...") stay one word.
        single = is_single & not_(keep)
        same_mark = (hyphen & shift(hyphen & single, 1)) | (dot & shift(dot & single, 1))
        return single, glued | (same_mark & single), not_n

    def _join_abbreviations(
        self,
        words: tf.Tensor,
        starts: tf.Tensor,
        ends: tf.Tensor,
        rows: tf.Tensor,
        non_empty: tf.Tensor,
    ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
        """Join a "." word to the word right before it when that word is an abbreviation."""
        words, starts, ends, rows = (
            tf.boolean_mask(t, non_empty) for t in (words, starts, ends, rows)
        )
        assert self._abbreviation_table is not None
        known = tf.equal(self._abbreviation_table.lookup(words), 1)
        join = tf.concat(
            [
                [False],
                tf.equal(words[1:], ".")
                & known[:-1]
                & tf.equal(rows[1:], rows[:-1])
                & tf.equal(ends[:-1], starts[1:]),
            ],
            0,
        )
        # a word joined once cannot take a second period ("Mr.." keeps the last "." apart)
        join = join & tf.logical_not(tf.concat([[False], join[:-1]], 0))
        ids = tf.cumsum(tf.cast(tf.logical_not(join), tf.int64)) - 1
        count = tf.reduce_sum(tf.cast(tf.logical_not(join), tf.int64))
        words = tf.strings.unsorted_segment_join(words, ids, count)
        starts = tf.math.unsorted_segment_min(starts, ids, count)
        ends = tf.math.unsorted_segment_max(ends, ids, count)
        rows = tf.math.unsorted_segment_min(rows, ids, count)
        return words, starts, ends, rows, tf.ones_like(rows, tf.bool)
