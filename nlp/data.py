"""Text data for the NLP tasks: CSV/TSV, folder-per-class, TFDS, CoNLL files, synthetic sets.

The synthetic sets are template sentences, clearly artificial; they make tests and demos run
offline in seconds and are never a quality claim (benchmarks in ``bench/`` use real data).
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import io
import os
import random
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

SCHEMES = ("auto", "iob1", "iob2", "bioes")
_TAG = re.compile(r"^(O|[BIES]-\S+)$")


@dataclasses.dataclass
class TextData:
    """Texts with one label each (or a list of labels each, for multi-label data)."""

    texts: list[str]
    labels: list
    class_names: list[str]

    def __len__(self) -> int:
        return len(self.texts)


@dataclasses.dataclass
class TaggedSentences:
    """Token-level labelled sentences in IOB2: ``tokens[i][j]`` has tag ``tags[i][j]``."""

    tokens: list[list[str]]
    tags: list[list[str]]

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def entity_types(self) -> list[str]:
        return sorted({t[2:] for sentence in self.tags for t in sentence if t != "O"})


# --------------------------------------------------------------------------- classification files
def _open_text(path: Path):
    return (
        gzip.open(path, "rt", encoding="utf-8", newline="")
        if path.suffix == ".gz"
        else open(path, encoding="utf-8", newline="")
    )


def _read_text(path: Path) -> str:
    """The whole UTF-8 text of ``path`` (``.gz`` too); ``ValueError`` naming it when unreadable."""
    try:
        with _open_text(path) as handle:
            return handle.read()
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{path} is not UTF-8 text (byte {error.object[error.start : error.start + 1]!r} "
            f"at offset {error.start} of the decoded stream)"
        ) from None
    except (OSError, EOFError) as error:  # gzip.BadGzipFile, a truncated .gz
        raise ValueError(f"{path} cannot be read: {error}") from None


def load_text_csv(
    path: str | os.PathLike,
    text_column: str = "text",
    label_column: str = "label",
    delimiter: str | None = None,
    label_separator: str | None = None,
) -> TextData:
    """Read a CSV/TSV (optionally .gz) with a header; columns chosen by name.

    The delimiter defaults to a tab for ``.tsv`` files and a comma otherwise. With
    ``label_separator`` (e.g. ``"|"``) a label cell holds several labels (multi-label data).
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no such file: {path}")
    name = path.name.removesuffix(".gz")
    delimiter = delimiter or ("\t" if name.endswith(".tsv") else ",")
    texts, labels = [], []
    reader = csv.DictReader(
        io.StringIO(_read_text(path), newline=""),
        delimiter=delimiter,
        quoting=csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL,
    )
    try:
        columns = reader.fieldnames or []
        for column in (text_column, label_column):
            if column not in columns:
                raise ValueError(f"{path} has no column {column!r}; its columns are {columns}")
        for row in reader:
            text, label = row[text_column], row[label_column]
            if text is None or label is None:
                raise ValueError(
                    f"{path}, line {reader.line_num}: missing {text_column!r} or "
                    f"{label_column!r} value"
                )
            texts.append(text)
            labels.append(
                [x for x in label.split(label_separator) if x] if label_separator else label
            )
    except csv.Error as error:  # a field over csv.field_size_limit(), a stray quote
        raise ValueError(f"{path}, line {reader.line_num}: not valid CSV ({error})") from None
    if not texts:
        raise ValueError(f"{path} holds no rows")
    flat = [x for y in labels for x in y] if label_separator else labels
    return TextData(texts, labels, sorted(set(flat)))


def load_text_folder(path: str | os.PathLike, pattern: str = "*.txt") -> TextData:
    """One sub-folder per class, one text file per example."""
    root = Path(path)
    if not root.is_dir():
        raise ValueError(f"no such folder: {root}")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(classes) < 2:
        raise ValueError(f"{root} needs at least two class sub-folders, found {classes}")
    texts, labels = [], []
    for name in classes:
        for file in sorted((root / name).glob(pattern)):
            try:
                texts.append(file.read_text(encoding="utf-8"))
            except UnicodeDecodeError as error:
                raise ValueError(f"{file} is not UTF-8 text") from error
            labels.append(name)
    if not texts:
        raise ValueError(f"{root} holds no {pattern} files")
    return TextData(texts, labels, classes)


#: The TFDS text sets read before any set was accepted: their text / label features and the class
#: names dlsuite has always used for them (imdb's "neg" / "pos" become "negative" / "positive").
#: Any other TFDS text-classification set works too, with its own feature and class names.
TFDS_TEXT = {
    "imdb_reviews": ("text", "label", ["negative", "positive"]),
    "ag_news_subset": ("description", "label", ["World", "Sports", "Business", "Sci/Tech"]),
    "glue/sst2": ("sentence", "label", ["negative", "positive"]),
}


def _known_tfds_text(name: str) -> tuple[str, str, list[str]] | None:
    """``TFDS_TEXT``'s entry for ``name`` (a config or ``:version`` suffix allowed), else None."""
    base = name.partition(":")[0]
    return TFDS_TEXT.get(base) or TFDS_TEXT.get(base.partition("/")[0])


def load_tfds_text(
    name: str,
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    limit: int | None = None,
    text_key: str | None = None,
    label_key: str | None = None,
    download: bool | None = None,
) -> TextData:
    """Any TFDS text-classification set (``imdb_reviews``, ``yelp_polarity_reviews``, ...).

    The text and label features are the set's one ``Text`` and one ``ClassLabel`` feature unless
    ``text_key`` / ``label_key`` name them (``TFDS_TEXT`` names them for the sets it lists).
    ``download`` as in ``common.data.load_tfds``: a set not on disk is downloaded when online,
    else the error says how to prepare it (``--data-dir`` on the command line).
    """
    from common.data import tfds_text_examples

    known = _known_tfds_text(name)
    if known is not None:
        text_key = text_key or known[0]
        label_key = label_key or known[1]
    texts, labels, classes = tfds_text_examples(
        name, split, data_dir, text_key, label_key, limit=limit, download=download
    )
    if known is not None and label_key == known[1] and len(known[2]) == len(classes):
        rename = dict(zip(classes, known[2], strict=True))
        labels, classes = [rename[label] for label in labels], list(known[2])
    return TextData(texts, labels, classes)


# --------------------------------------------------------------------------- CoNLL
def _split_entity_tag(tag: str) -> tuple[str, str]:
    return ("O", "") if tag == "O" else (tag[0], tag[2:])


def detect_scheme(tags: Iterable[Sequence[str]]) -> str:
    """``bioes`` with S-/E- prefixes, else ``iob1`` if an entity starts with I-, else ``iob2``."""
    prefixes, iob1 = set(), False
    for sentence in tags:
        previous = "O"
        for tag in sentence:
            prefix, kind = _split_entity_tag(tag)
            prefixes.add(prefix)
            if prefix == "I" and (previous == "O" or _split_entity_tag(previous)[1] != kind):
                iob1 = True
            previous = tag
    if prefixes & {"S", "E"}:
        return "bioes"
    return "iob1" if iob1 else "iob2"


def to_iob2(tags: Sequence[str], scheme: str) -> list[str]:
    """Convert one sentence's tags from IOB1 / IOB2 / BIOES to IOB2 (the internal scheme)."""
    out = []
    previous_kind = ""
    for tag in tags:
        prefix, kind = _split_entity_tag(tag)
        if prefix == "O":
            out.append("O")
        elif scheme == "bioes":
            out.append(f"B-{kind}" if prefix in ("B", "S") else f"I-{kind}")
        elif scheme == "iob1":
            starts = prefix == "B" or previous_kind != kind
            out.append(f"{'B' if starts else 'I'}-{kind}")
        else:
            out.append(f"{'B' if prefix == 'B' or previous_kind != kind else 'I'}-{kind}")
        previous_kind = kind
    return out


def read_conll(
    source: str | os.PathLike | Iterable[str],
    scheme: str = "auto",
    token_column: int = 0,
    tag_column: int = -1,
) -> TaggedSentences:
    """CoNLL-2003-style file (``.gz`` too) or lines: token per line, blank line between sentences.

    ``-DOCSTART-`` lines are skipped; tags are converted to IOB2. Malformed lines raise
    ``ValueError`` naming the line number.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    where = "input"
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise ValueError(f"no such CoNLL file: {path}")
        where = str(path)
        lines = _read_text(path).splitlines()
    else:
        lines = list(source)
    sentences: list[list[str]] = []
    tags: list[list[str]] = []
    tokens_now: list[str] = []
    tags_now: list[str] = []
    for number, line in enumerate(lines, start=1):
        line = line.rstrip("\n")
        if not line.strip():
            if tokens_now:
                sentences.append(tokens_now)
                tags.append(tags_now)
                tokens_now, tags_now = [], []
            continue
        if line.startswith("-DOCSTART-"):
            continue
        columns = line.split()
        if len(columns) < 2:
            raise ValueError(f"{where}, line {number}: expected a token and a tag, got {line!r}")
        tag = columns[tag_column]
        if not _TAG.match(tag):
            raise ValueError(f"{where}, line {number}: {tag!r} is not an O / B- / I- / E- / S- tag")
        tokens_now.append(columns[token_column])
        tags_now.append(tag)
    if tokens_now:
        sentences.append(tokens_now)
        tags.append(tags_now)
    if not sentences:
        raise ValueError(f"{where} holds no sentences")
    if scheme == "auto":
        scheme = detect_scheme(tags)
    return TaggedSentences(sentences, [to_iob2(t, scheme) for t in tags])


# --------------------------------------------------------------------------- synthetic sets
_POSITIVE = [
    "great",
    "wonderful",
    "excellent",
    "delightful",
    "superb",
    "lovely",
    "brilliant",
    "charming",
]
_NEGATIVE = ["terrible", "awful", "boring", "dreadful", "horrible", "dull", "disappointing", "bad"]
_THINGS = ["movie", "film", "plot", "soundtrack", "acting", "story", "ending", "cast", "script"]
_SENTIMENT_TEMPLATES = [
    "the {thing} was {adj}.",
    "what a {adj} {thing}!",
    "i found the {thing} {adj} and {adj2}.",
    "honestly, a {adj} {thing}.",
    "this {thing} is {adj}, truly {adj2}.",
    "my friends said the {thing} felt {adj}.",
]
_TOPICS = {
    "sports": ["match", "goal", "coach", "league", "season", "striker", "tournament", "referee"],
    "business": ["market", "shares", "profit", "investor", "merger", "revenue", "bank", "earnings"],
    "science": [
        "experiment",
        "telescope",
        "molecule",
        "researcher",
        "genome",
        "physics",
        "lab",
        "climate",
    ],
    "politics": [
        "election",
        "senate",
        "minister",
        "vote",
        "parliament",
        "policy",
        "campaign",
        "law",
    ],
}
_TOPIC_TEMPLATES = [
    "the {a} and the {b} made headlines today.",
    "reporters asked about the {a} after the {b}.",
    "a new {a} changed how people see the {b}.",
    "experts discussed the {a}, the {b} and what comes next.",
]


def make_sentiment(n: int = 400, seed: int = 0) -> TextData:
    """Synthetic positive/negative review sentences from templates (balanced)."""
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        label = "positive" if i % 2 == 0 else "negative"
        words = _POSITIVE if label == "positive" else _NEGATIVE
        template = rng.choice(_SENTIMENT_TEMPLATES)
        text = template.format(
            thing=rng.choice(_THINGS), adj=rng.choice(words), adj2=rng.choice(words)
        )
        texts.append(text.capitalize() if rng.random() < 0.5 else text)
        labels.append(label)
    return TextData(texts, labels, ["negative", "positive"])


def make_topics(n: int = 400, seed: int = 0, multi_label: bool = False) -> TextData:
    """Synthetic news-like sentences about four topics; ``multi_label`` mixes two topics in some."""
    rng = random.Random(seed)
    names = sorted(_TOPICS)
    texts, labels = [], []
    for i in range(n):
        first = names[i % len(names)]
        second = rng.choice(names) if multi_label and rng.random() < 0.5 else first
        template = rng.choice(_TOPIC_TEMPLATES)
        texts.append(template.format(a=rng.choice(_TOPICS[first]), b=rng.choice(_TOPICS[second])))
        labels.append(sorted({first, second}) if multi_label else first)
    return TextData(texts, labels, names)


_PEOPLE = [
    "Angela Merkel",
    "Marie Curie",
    "John Smith",
    "Ada Lovelace",
    "Nelson Mandela",
    "José Álvarez",
    "Li Wei",
    "Fatima Zahra",
    "Olaf Scholz",
    "Grace Hopper",
    "Søren Kierkegaard",
    "Emma Watson",
]
_PLACES = [
    "Paris",
    "Berlin",
    "New York",
    "Tokyo",
    "São Paulo",
    "Cairo",
    "Zürich",
    "Lagos",
    "Sydney",
    "Mumbai",
    "Buenos Aires",
    "Oslo",
]
_ORGS = [
    "Acme Corp",
    "United Nations",
    "Globex",
    "Red Cross",
    "Initech",
    "Siemens",
    "Nokia",
    "World Bank",
    "Umbrella Inc",
    "Nordbank",
]
_NER_TEMPLATES = [
    "{PER} visited {LOC} last week .",
    "{PER} works for {ORG} in {LOC} .",
    "{ORG} opened an office in {LOC} .",
    "Yesterday {PER} met {PER2} in {LOC} .",
    "The report by {ORG} mentions {PER} .",
    "In {LOC} , {ORG} hired {PER} .",
    "{PER} flew from {LOC} to {LOC2} .",
    "Shares of {ORG} rose after {PER} spoke .",
]


def make_ner(n: int = 400, seed: int = 0) -> TaggedSentences:
    """Synthetic sentences with PER / LOC / ORG entities, tokenised, IOB2 tags."""
    rng = random.Random(seed)
    pools = {"PER": _PEOPLE, "LOC": _PLACES, "ORG": _ORGS}
    tokens_out, tags_out = [], []
    for _ in range(n):
        template = rng.choice(_NER_TEMPLATES)
        tokens, tags = [], []
        for piece in template.split():
            match = re.fullmatch(r"\{(PER|LOC|ORG)2?\}", piece)
            if not match:
                tokens.append(piece)
                tags.append("O")
                continue
            kind = match.group(1)
            words = rng.choice(pools[kind]).split()
            tokens.extend(words)
            tags.extend([f"B-{kind}"] + [f"I-{kind}"] * (len(words) - 1))
        tokens_out.append(tokens)
        tags_out.append(tags)
    return TaggedSentences(tokens_out, tags_out)
