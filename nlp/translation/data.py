"""Parallel text for translation: line-aligned files, TSV pairs, TFDS by name, a synthetic corpus.

Every loader returns ``ParallelText`` (source and target sentences, index-aligned). Files may be
plain or gzip-compressed UTF-8. The built-in corpus is SYNTHETIC: English template sentences
with a rule-based pseudo-German rendering, for tests and demos only (never a quality claim;
``bench/nlp_translation.py`` measures Multi30k).
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import os
import random
from pathlib import Path

#: Examples for error messages; any TFDS set with two text features (languages) is read.
TFDS_TRANSLATION = ("wmt14_translate", "ted_hrlr_translate")


@dataclasses.dataclass
class ParallelText:
    """Aligned sentence pairs: ``sources[i]`` translates to ``targets[i]``."""

    sources: list[str]
    targets: list[str]
    source_language: str = "src"
    target_language: str = "tgt"
    synthetic: bool = False
    skipped_empty: int = 0  # pairs dropped because one side was blank

    def __post_init__(self) -> None:
        if len(self.sources) != len(self.targets):
            raise ValueError(
                f"got {len(self.sources)} source sentences but {len(self.targets)} targets"
            )

    def __len__(self) -> int:
        return len(self.sources)

    def take(self, n: int) -> ParallelText:
        """The first ``n`` pairs (same languages and labels)."""
        return dataclasses.replace(self, sources=self.sources[:n], targets=self.targets[:n])


def _pairs(sources: list[str], targets: list[str], **labels) -> ParallelText:
    """Drop pairs with a blank side (counted in ``skipped_empty``); strip line ends and spaces."""
    kept_s, kept_t, skipped = [], [], 0
    for s, t in zip(sources, targets, strict=True):
        s, t = s.strip(), t.strip()
        if s and t:
            kept_s.append(s)
            kept_t.append(t)
        else:
            skipped += 1
    return ParallelText(kept_s, kept_t, skipped_empty=skipped, **labels)


def read_lines(path: str | os.PathLike) -> list[str]:
    """Lines of a UTF-8 text file (``.gz`` too); clear errors for missing or non-UTF-8 files.

    Splits on ``\n`` only (not on Unicode line separators), so line numbers match ``wc -l``.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"parallel text file not found: {path}")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            text = handle.read().decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{path} is not valid UTF-8 (byte {error.start}): {error.reason}"
        ) from error
    except (OSError, EOFError) as error:
        raise ValueError(f"cannot read {path}: {error}") from error
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def load_parallel_files(
    source_path: str | os.PathLike,
    target_path: str | os.PathLike,
    source_language: str = "src",
    target_language: str = "tgt",
    limit: int | None = None,
) -> ParallelText:
    """Two line-aligned files (one sentence per line, plain or ``.gz``); line counts must match."""
    sources, targets = read_lines(source_path), read_lines(target_path)
    if len(sources) != len(targets):
        raise ValueError(
            f"parallel files are not aligned: {source_path} has {len(sources)} lines but "
            f"{target_path} has {len(targets)} lines"
        )
    if limit:
        sources, targets = sources[:limit], targets[:limit]
    return _pairs(
        sources, targets, source_language=source_language, target_language=target_language
    )


def load_parallel_tsv(
    path: str | os.PathLike,
    source_column: int = 0,
    target_column: int = 1,
    source_language: str = "src",
    target_language: str = "tgt",
) -> ParallelText:
    """Tab-separated pairs, one per line (``source<TAB>target``; extra columns are allowed)."""
    lines = read_lines(path)
    sources, targets = [], []
    rows = csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
    for number, row in enumerate(rows, start=1):
        if not row or not "".join(row).strip():
            continue
        if len(row) <= max(source_column, target_column):
            raise ValueError(
                f"{path} line {number} has {len(row)} tab-separated column(s); expected at least "
                f"{max(source_column, target_column) + 1} (source<TAB>target)"
            )
        sources.append(row[source_column])
        targets.append(row[target_column])
    if not sources:
        raise ValueError(f"{path} holds no sentence pairs")
    return _pairs(
        sources, targets, source_language=source_language, target_language=target_language
    )


def _tfds_languages(
    name: str,
    data_dir: str | os.PathLike | None,
    source_language: str | None,
    target_language: str | None,
) -> tuple[str, str]:
    """(source, target) text features of TFDS set ``name``, read from its code (no data needed).

    Missing languages default to the set's supervised keys; a set whose languages are not two
    ``Text`` features (``imdb_reviews``: text and a label) raises ``ValueError`` before any
    download starts.
    """
    import tensorflow_datasets as tfds

    try:
        info = tfds.builder(name, data_dir=None if data_dir is None else str(data_dir)).info
    except tfds.core.registered.DatasetNotFoundError as error:
        raise ValueError(f"TFDS has no dataset named {name!r}") from error
    features = info.features
    texts = [k for k in features.keys() if isinstance(features[k], tfds.features.Text)]
    keys = info.supervised_keys
    if isinstance(keys, (tuple, list)) and len(keys) == 2 and all(isinstance(k, str) for k in keys):
        source_language = source_language or keys[0]
        target_language = target_language or keys[1]
    if len(texts) < 2:
        raise ValueError(
            f"unsupported TFDS translation dataset {name!r}: it has no pair of text features "
            f"to translate between (features: {', '.join(features.keys())}); e.g. "
            f"{' or '.join(f'{n}/CONFIG' for n in TFDS_TRANSLATION)}"
        )
    if source_language is None or target_language is None:
        raise ValueError(
            f"{name} names no source and target language; choose two of its text features "
            f"({', '.join(texts)}) with source_language= and target_language= "
            "(--source-language / --target-language on the command line)"
        )
    for language in (source_language, target_language):
        if language not in texts:
            raise ValueError(
                f"{name} has languages {sorted(texts)}, not {source_language} and {target_language}"
            )
    return source_language, target_language


def load_tfds_parallel(
    name: str,
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    source_language: str | None = None,
    target_language: str | None = None,
    limit: int | None = None,
    download: bool | None = None,
) -> ParallelText:
    """Any TFDS translation set (``wmt14_translate/de-en``, ``ted_hrlr_translate/pt_to_en``...).

    The languages default to the dataset's supervised keys (e.g. ``de`` -> ``en`` for
    ``wmt14_translate/de-en``); pass both to translate the other way. ``download`` as in
    ``common.data.load_tfds`` (default: download when online).
    """
    from common.data import load_tfds

    source_language, target_language = _tfds_languages(
        name, data_dir, source_language, target_language
    )
    dataset = load_tfds(
        name, split=split, data_dir=data_dir, as_supervised=False, download=download
    )
    if limit:
        dataset = dataset.take(limit)
    sources, targets = [], []
    for example in dataset.as_numpy_iterator():
        sources.append(example[source_language].decode("utf-8"))
        targets.append(example[target_language].decode("utf-8"))
    return _pairs(
        sources, targets, source_language=source_language, target_language=target_language
    )


# --------------------------------------------------------------------------- synthetic corpus
# (english, pseudo-German, grammatical gender) -- a toy rendering, not a claim about German.
_NOUNS = [
    ("man", "Mann", "m"),
    ("woman", "Frau", "f"),
    ("child", "Kind", "n"),
    ("dog", "Hund", "m"),
    ("girl", "Mädchen", "n"),
    ("boy", "Junge", "m"),
    ("cat", "Katze", "f"),
    ("worker", "Arbeiter", "m"),
    ("teacher", "Lehrerin", "f"),
    ("horse", "Pferd", "n"),
]
_ADJECTIVES = [
    ("young", "jung"),
    ("old", "alt"),
    ("small", "klein"),
    ("tall", "groß"),
    ("happy", "glücklich"),
]
_ARTICLES = {
    "the": {"m": "der", "f": "die", "n": "das"},
    "a": {"m": "ein", "f": "eine", "n": "ein"},
}
_ENDINGS = {"the": {"m": "e", "f": "e", "n": "e"}, "a": {"m": "er", "f": "e", "n": "es"}}
_VERBS = [
    ("is reading a book", "liest ein Buch"),
    ("is playing football", "spielt Fußball"),
    ("is eating an apple", "isst einen Apfel"),
    ("is sleeping", "schläft"),
    ("is running", "rennt"),
    ("is drinking coffee", "trinkt Kaffee"),
    ("is singing a song", "singt ein Lied"),
    ("is riding a bike", "fährt Fahrrad"),
    ("is waiting", "wartet"),
    ("is looking at the sky", "schaut in den Himmel"),
]
_PLACES = [
    ("in the park", "im Park"),
    ("on the street", "auf der Straße"),
    ("at the beach", "am Strand"),
    ("in the kitchen", "in der Küche"),
    ("near the river", "in der Nähe des Flusses"),
    ("", ""),
    ("in the garden", "im Garten"),
    ("at the station", "am Bahnhof"),
]


def synthetic_pair(rng: random.Random) -> tuple[str, str]:
    """One English template sentence and its pseudo-German rendering."""
    article = rng.choice(["the", "a"])
    noun_en, noun_de, gender = rng.choice(_NOUNS)
    adjective = rng.choice([None, *_ADJECTIVES])
    verb_en, verb_de = rng.choice(_VERBS)
    place_en, place_de = rng.choice(_PLACES)
    subject_en = " ".join(w for w in (article, adjective and adjective[0], noun_en) if w)
    adjective_de = adjective and adjective[1] + _ENDINGS[article][gender]
    subject_de = " ".join(w for w in (_ARTICLES[article][gender], adjective_de, noun_de) if w)
    english = " ".join(w for w in (subject_en, verb_en, place_en) if w) + "."
    german = " ".join(w for w in (subject_de, verb_de, place_de) if w) + "."
    if article == "a" and english[2] in "aeiou":
        english = "an" + english[1:]
    return english[0].upper() + english[1:], german[0].upper() + german[1:]


def make_synthetic_translation(n: int = 400, seed: int = 0) -> ParallelText:
    """SYNTHETIC English -> pseudo-German template pairs (9,600 distinct sentences)."""
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    rng = random.Random(seed)
    pairs = [synthetic_pair(rng) for _ in range(n)]
    return ParallelText(
        [p[0] for p in pairs],
        [p[1] for p in pairs],
        source_language="en",
        target_language="de-synthetic",
        synthetic=True,
    )
