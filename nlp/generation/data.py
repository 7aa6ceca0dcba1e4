"""Plain text for language modelling: files, folders, TFDS sets, or strings; and a tail split.

A language model learns from one long text. Documents are joined with a blank line between
them, so the model also learns where one ends. ``split_tail`` holds out the END of a text (a
later stretch than anything trained on, as language-modelling benchmarks do) rather than random
windows, which would overlap the training text.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

DOCUMENT_SEPARATOR = "\n\n"
TEXT_SUFFIXES = (".txt", ".md", ".text")


def read_text_file(path: str | os.PathLike) -> str:
    """A UTF-8 text file (``.gz`` too) as one string; ValueError when unreadable or not UTF-8."""
    import gzip

    path = Path(path)
    try:
        raw = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path} is not UTF-8 text") from error
    except OSError as error:
        raise ValueError(f"cannot read {path}: {error}") from error


def load_text(source: str | os.PathLike) -> str:
    """A text file, or a folder's ``.txt`` / ``.md`` / ``.text`` files (recursively, sorted by
    path, joined by a blank line), as one string."""
    path = Path(source)
    if path.is_file():
        return read_text_file(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in TEXT_SUFFIXES)
        if not files:
            raise ValueError(f"{path} holds no {'/'.join(TEXT_SUFFIXES)} files")
        return DOCUMENT_SEPARATOR.join(read_text_file(p) for p in files)
    raise ValueError(f"{source} is neither a text file nor a folder")


def join_documents(documents: Iterable[str]) -> str:
    """Strings -> one text, documents separated by a blank line."""
    documents = list(documents)
    bad = next((i for i, d in enumerate(documents) if not isinstance(d, str)), None)
    if bad is not None:
        raise ValueError(f"document {bad} is {type(documents[bad]).__name__}, not a string")
    return DOCUMENT_SEPARATOR.join(documents)


def load_tfds_text_corpus(
    name: str,
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    text_key: str = "text",
    download: bool | None = None,
) -> str:
    """A TFDS set's ``text_key`` feature (e.g. ``tiny_shakespeare``, ``wikitext103``...), all
    examples joined into one text."""
    from common.data import load_tfds

    dataset = load_tfds(name, split, data_dir, as_supervised=False, download=download)
    documents = []
    for example in dataset.as_numpy_iterator():
        if text_key not in example:
            raise ValueError(f"{name} has no feature {text_key!r}; its features: {list(example)}")
        documents.append(example[text_key].decode("utf-8"))
    return join_documents(documents)


def split_tail(text: str, fraction: float = 0.1, at: str = "\n\n") -> tuple[str, str]:
    """(head, tail): the last ``fraction`` of ``text`` held out, cut at the first ``at`` (a blank
    line by default) after the split point when there is one, so no passage is cut in two."""
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    cut = int(len(text) * (1 - fraction))
    boundary = text.find(at, cut)
    if boundary != -1 and boundary < len(text) - len(at):
        cut = boundary + len(at)
    head, tail = text[:cut], text[cut:]
    if not head or not tail:
        raise ValueError("the text is too short to split")
    return head, tail


_SUBJECTS = ("the cat", "a dog", "the old man", "my sister", "the king", "a small bird")
_VERBS = ("sees", "likes", "follows", "greets", "finds", "calls")
_OBJECTS = ("the river", "a red apple", "the moon", "his friend", "the garden", "a letter")


def make_synthetic_text(lines: int = 400, seed: int = 0) -> str:
    """Template sentences, one per line ("the cat sees the moon."): built-in demo and test text
    (shows the plumbing offline in seconds; not a quality claim)."""
    import random

    rng = random.Random(seed)
    return "".join(
        f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}.\n"
        for _ in range(lines)
    )
