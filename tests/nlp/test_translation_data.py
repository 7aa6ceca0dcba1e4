"""Parallel text loaders: aligned files (plain / gzip), TSV, TFDS (mocked), the synthetic corpus."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from nlp.translation import Translator
from nlp.translation.data import (
    load_parallel_files,
    load_parallel_tsv,
    load_tfds_parallel,
    make_synthetic_translation,
)


def write(path, text: str, compress: bool = False) -> str:
    data = text.encode("utf-8")
    path.write_bytes(gzip.compress(data) if compress else data)
    return str(path)


@pytest.mark.parametrize("compress", [False, True])
def test_line_aligned_files(tmp_path, compress):
    suffix = ".gz" if compress else ""
    source = write(
        tmp_path / f"train.en{suffix}", "A dog runs.\nTwo men\u2028talk.\n\nA cat.\n", compress
    )
    target = write(
        tmp_path / f"train.de{suffix}",
        "Ein Hund rennt.\nZwei Männer reden.\nLeer\nEine Katze.\n",
        compress,
    )
    data = load_parallel_files(source, target, "en", "de")
    # split on \n only (U+2028 stays inside its line); the pair with a blank side is dropped
    assert data.sources == ["A dog runs.", "Two men\u2028talk.", "A cat."]
    assert data.targets == ["Ein Hund rennt.", "Zwei Männer reden.", "Eine Katze."]
    assert data.skipped_empty == 1 and (data.source_language, data.target_language) == ("en", "de")
    assert len(load_parallel_files(source, target, limit=2)) == 2
    # a task takes the pair of paths directly (never as two sentences split into characters)
    assert Translator.as_parallel((source, Path(target))).targets == data.targets


def test_mismatched_line_counts_name_both_files_and_counts(tmp_path):
    source = write(tmp_path / "a.en", "one\ntwo\nthree\n")
    target = write(tmp_path / "a.de", "eins\nzwei\n")
    with pytest.raises(ValueError, match=r"a\.en has 3 lines but .*a\.de has 2 lines"):
        load_parallel_files(source, target)


def test_bad_files(tmp_path):
    good = write(tmp_path / "good.de", "eins\n")
    (tmp_path / "bad.en").write_bytes(b"caf\xe9\n")
    with pytest.raises(ValueError, match=r"bad\.en is not valid UTF-8"):
        load_parallel_files(tmp_path / "bad.en", good)
    with pytest.raises(ValueError, match="not found"):
        load_parallel_files(tmp_path / "missing.en", good)
    (tmp_path / "broken.en.gz").write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match="cannot read"):
        load_parallel_files(tmp_path / "broken.en.gz", good)


def test_tsv_pairs(tmp_path):
    path = write(
        tmp_path / "pairs.tsv", 'Hello "world".\tHallo "Welt".\n\nGood night.\tGute Nacht.\textra\n'
    )
    data = load_parallel_tsv(path)
    assert data.sources == ['Hello "world".', "Good night."]
    assert data.targets == ['Hallo "Welt".', "Gute Nacht."]
    bad = write(tmp_path / "bad.tsv", "only one column\n")
    with pytest.raises(ValueError, match="line 1 has 1 tab-separated column"):
        load_parallel_tsv(bad)


def test_tfds_translation_sets_with_mock_data():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=3):
        ted = load_tfds_parallel("ted_hrlr_translate/pt_to_en")
        assert (ted.source_language, ted.target_language) == ("pt", "en") and len(
            ted
        ) + ted.skipped_empty == 3
        wmt = load_tfds_parallel(
            "wmt14_translate/de-en", split="validation", source_language="en", target_language="de"
        )
        assert (wmt.source_language, wmt.target_language) == ("en", "de")
        assert all(isinstance(s, str) for s in wmt.sources + wmt.targets)
    with pytest.raises(ValueError, match="unsupported TFDS translation dataset"):
        load_tfds_parallel("imdb_reviews")


@pytest.mark.parametrize(
    ("name", "languages"),
    [("opus/medical", ("de", "en")), ("para_crawl/enpl", ("en", "pl"))],
)
def test_any_tfds_translation_set_is_read(name, languages):
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=3):
        data = load_tfds_parallel(name)
        backwards = load_tfds_parallel(
            name, source_language=languages[1], target_language=languages[0]
        )
    assert (data.source_language, data.target_language) == languages
    assert len(data) + data.skipped_empty == 3 and data.sources == backwards.targets
    assert all(isinstance(s, str) and s for s in data.sources + data.targets)


def test_tfds_sets_that_are_not_translations_are_refused_before_loading(tmp_path, monkeypatch):
    import common.data as data_lib

    # Checked from the dataset's code: nothing is loaded or downloaded to say no (were it
    # loaded, the "offline" machine would give DatasetNotOnDiskError instead).
    monkeypatch.setattr(data_lib, "is_online", lambda timeout=3.0: False)
    with pytest.raises(ValueError, match=r"no pair of text features.*\(features: text, label\)"):
        load_tfds_parallel("imdb_reviews", data_dir=tmp_path, download=True)
    with pytest.raises(ValueError, match=r"sentence1, sentence2.*--source-language"):
        load_tfds_parallel("glue/mrpc", data_dir=tmp_path, download=True)
    with pytest.raises(ValueError, match=r"languages \['de', 'en'\], not de and fr"):
        load_tfds_parallel("wmt14_translate/de-en", data_dir=tmp_path, target_language="fr")
    with pytest.raises(ValueError, match="no dataset named"):
        load_tfds_parallel("surely_not_a_translation_set", data_dir=tmp_path)
    assert not any(tmp_path.rglob("*"))
    with pytest.raises(
        data_lib.DatasetNotOnDiskError, match=r"tfds build opus/medical.*--data-dir"
    ):
        load_tfds_parallel("opus/medical", data_dir=tmp_path, download=False)


def test_synthetic_corpus_is_labelled_and_deterministic():
    data = make_synthetic_translation(50, seed=3)
    assert data.synthetic and data.target_language == "de-synthetic" and len(data) == 50
    assert data.sources == make_synthetic_translation(50, seed=3).sources
    assert data.sources != make_synthetic_translation(50, seed=4).sources
    assert all(
        s.endswith(".") and t.endswith(".") and s[0].isupper() and t[0].isupper()
        for s, t in zip(data.sources, data.targets, strict=True)
    )
    with pytest.raises(ValueError, match="positive"):
        make_synthetic_translation(0)
