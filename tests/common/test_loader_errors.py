"""Malformed files into every loader: a ValueError naming the file and the problem, nothing raw."""

from __future__ import annotations

import csv
import json
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nlp.data import load_text_csv, read_conll
from nlp.qa.squad import read_squad
from speech.data import load_manifest
from speech.features import decode_audio_bytes, encode_wav, read_audio, wav_shortfall
from vision.data import parse_voc_annotation
from vision.detection.data import load_coco, load_voc

LATIN1 = "caf\xe9 na\xefve".encode("latin-1")  # not UTF-8


def write(path: Path, content: bytes | str) -> Path:
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def coco(tmp_path: Path, images=None, annotations=None, categories=None) -> Path:
    Image.new("RGB", (20, 10)).save(tmp_path / "a.png")
    doc = {
        "images": images
        if images is not None
        else [{"id": 1, "file_name": "a.png", "height": 10, "width": 20}],
        "annotations": annotations
        if annotations is not None
        else [{"id": 7, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5]}],
        "categories": categories if categories is not None else [{"id": 1, "name": "box"}],
    }
    return write(tmp_path / "instances.json", json.dumps(doc))


def squad(tmp_path: Path, qas: list, name: str = "squad.json") -> Path:
    doc = {
        "version": "v2.0",
        "data": [{"title": "T", "paragraphs": [{"context": "abc", "qas": qas}]}],
    }
    return write(tmp_path / name, json.dumps(doc))


def manifest(tmp_path: Path, body: str) -> Path:
    write(tmp_path / "a.wav", encode_wav(np.zeros(160, np.float32), 16000))
    return write(tmp_path / "manifest.csv", "path,transcript\n" + body)


def voc(tmp_path: Path, xmin: str = "1") -> Path:
    return write(
        tmp_path / "a.xml",
        f"<annotation><filename>a.jpg</filename><object><name>cat</name><bndbox>"
        f"<xmin>{xmin}</xmin><ymin>1</ymin><xmax>5</xmax><ymax>5</ymax></bndbox></object>"
        "</annotation>",
    )


CASES: dict[str, tuple[Callable[[Path], Path], Callable[[Path], object], str]] = {
    # name: (make the bad file, load it, text the message must contain besides the file name)
    "conll-latin1": (
        lambda d: write(d / "x.conll", b"Paris B-LOC\n" + LATIN1 + b" O\n"),
        read_conll,
        "not UTF-8",
    ),
    "conll-bad-gzip": (lambda d: write(d / "x.conll.gz", b"\x1f\x8bnot gzip"), read_conll, "read"),
    "csv-latin1": (
        lambda d: write(d / "t.csv", b"text,label\n" + LATIN1 + b",a\n"),
        load_text_csv,
        "UTF-8",
    ),
    "csv-huge-field": (
        lambda d: write(d / "t.csv", 'text,label\n"' + "x" * 200_000 + '",a\n'),
        load_text_csv,
        "CSV",
    ),
    "coco-latin1": (
        lambda d: write(d / "c.json", b'{"images": "' + LATIN1 + b'"}'),
        load_coco,
        "UTF-8",
    ),
    "coco-no-file-name": (lambda d: coco(d, images=[{"id": 1}]), load_coco, "file name"),
    "coco-no-image-id": (lambda d: coco(d, images=[{"file_name": "a.png"}]), load_coco, "'id'"),
    "coco-no-category-id": (lambda d: coco(d, categories=[{"name": "box"}]), load_coco, "'id'"),
    "coco-images-not-list": (lambda d: coco(d, images={"id": 1}), load_coco, "not a list"),
    "coco-image-not-object": (lambda d: coco(d, images=[5]), load_coco, "object"),
    "coco-top-level-list": (lambda d: write(d / "c.json", "[1, 2]"), load_coco, "not an object"),
    "coco-bbox-3": (
        lambda d: coco(
            d, annotations=[{"id": 7, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3]}]
        ),
        load_coco,
        "4 numbers",
    ),
    "coco-bbox-strings": (
        lambda d: coco(
            d, annotations=[{"id": 7, "image_id": 1, "category_id": 1, "bbox": ["a", 1, 2, 3]}]
        ),
        load_coco,
        "4 numbers",
    ),
    "coco-image-id-list": (
        lambda d: coco(
            d, annotations=[{"id": 7, "image_id": [1], "category_id": 1, "bbox": [1, 1, 2, 2]}]
        ),
        load_coco,
        "image_id",
    ),
    "coco-deep-nesting": (
        lambda d: write(d / "c.json", "[" * 100_000 + "]" * 100_000),
        load_coco,
        "JSON",
    ),
    "coco-traversal": (
        lambda d: coco(d, images=[{"id": 1, "file_name": "../../../../etc/hostname"}]),
        load_coco,
        "outside the image folder",
    ),
    "coco-absolute": (
        lambda d: coco(d, images=[{"id": 1, "file_name": "/etc/hostname"}]),
        load_coco,
        "outside the image folder",
    ),
    "squad-article-list": (
        lambda d: write(d / "s.json", json.dumps({"data": [["not", "an", "article"]]})),
        read_squad,
        "article 0",
    ),
    "squad-paragraphs-string": (
        lambda d: write(d / "s.json", json.dumps({"data": [{"title": "T", "paragraphs": "oops"}]})),
        read_squad,
        "'paragraphs' must be a list",
    ),
    "squad-answer-start-text": (
        lambda d: squad(
            d, [{"id": "q", "question": "?", "answers": [{"text": "a", "answer_start": "x"}]}]
        ),
        read_squad,
        "answer_start",
    ),
    "squad-answer-number": (
        lambda d: squad(d, [{"id": "q", "question": "?", "answers": [5]}]),
        read_squad,
        "answer 0",
    ),
    "squad-deep-nesting": (
        lambda d: write(d / "s.json", "[" * 100_000 + "]" * 100_000),
        read_squad,
        "deep",
    ),
    "squad-is-impossible-text": (
        lambda d: squad(d, [{"id": "q", "question": "?", "is_impossible": "maybe", "answers": []}]),
        read_squad,
        "is_impossible",
    ),
    "manifest-latin1": (
        lambda d: write(d / "m.csv", b"path,transcript\n" + LATIN1 + b",hi\n"),
        load_manifest,
        "UTF-8",
    ),
    "manifest-huge-field": (
        lambda d: manifest(d, 'a.wav,"' + "x" * 200_000 + '"\n'),
        load_manifest,
        "not valid CSV",
    ),
    "manifest-no-transcript": (lambda d: manifest(d, "a.wav\n"), load_manifest, "no transcript"),
    "manifest-no-path": (lambda d: manifest(d, ",hello\n"), load_manifest, "no audio path"),
    "voc-xmin-text": (lambda d: voc(d, "abc"), parse_voc_annotation, "xmin"),
    "voc-latin1-undeclared": (
        lambda d: write(
            d / "a.xml", b"<annotation><filename>" + LATIN1 + b"</filename></annotation>"
        ),
        parse_voc_annotation,
        "XML",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_file_gives_value_error_naming_it(tmp_path, case):
    make, load, problem = CASES[case]
    bad = make(tmp_path)
    with pytest.raises(ValueError) as info:
        load(bad)
    message = str(info.value)
    assert bad.name in message, message
    assert problem in message, message
    assert type(info.value) is ValueError or isinstance(info.value, ValueError)
    assert not isinstance(info.value, UnicodeDecodeError)


def test_manifest_row_without_transcript_names_the_row(tmp_path):
    path = manifest(tmp_path, "a.wav,hello\na.wav\n")
    with pytest.raises(ValueError, match=r"manifest\.csv, line 3: .*'a\.wav' has no transcript"):
        load_manifest(path)
    assert load_manifest(manifest(tmp_path, "a.wav,hello\n")).transcripts == ["hello"]


def test_manifest_field_limit_is_not_changed_globally(tmp_path):
    limit = csv.field_size_limit()
    with pytest.raises(ValueError):
        load_manifest(manifest(tmp_path, 'a.wav,"' + "x" * (limit + 10) + '"\n'))
    assert csv.field_size_limit() == limit


@pytest.mark.parametrize(
    ("value", "impossible"),
    [(False, False), ("false", False), ("FALSE", False), (True, True), ("true", True)],
)
def test_squad_is_impossible_strings_are_parsed_strictly(tmp_path, value, impossible):
    qa = {"id": "q", "question": "?", "is_impossible": value, "answers": []}
    if not impossible:
        qa["answers"] = [{"text": "b", "answer_start": 1}]
    (example,) = read_squad(squad(tmp_path, [qa])).examples
    assert example.is_impossible is impossible
    assert example.answers == ([] if impossible else [("b", 1)])


def test_coco_traversal_never_reads_outside(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "secret.png")  # exists, but outside images/
    path = coco(tmp_path, images=[{"id": 1, "file_name": "../secret.png"}], annotations=[])
    with pytest.raises(ValueError, match="outside the image folder"):
        load_coco(path, image_dir=images)


def test_voc_filename_traversal_is_refused(tmp_path):
    root = tmp_path / "voc"
    (root / "Annotations").mkdir(parents=True)
    (root / "JPEGImages").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "outside.jpg")
    write(
        root / "Annotations" / "a.xml",
        "<annotation><filename>../../outside.jpg</filename><object><name>cat</name><bndbox>"
        "<xmin>1</xmin><ymin>1</ymin><xmax>5</xmax><ymax>5</ymax></bndbox></object></annotation>",
    )
    with pytest.raises(ValueError, match=r"a\.xml.*outside the image folder"):
        load_voc(root, split=None)


def test_good_coco_still_loads(tmp_path):
    data = load_coco(coco(tmp_path))
    assert data.class_names == ["box"] and len(data.images) == 1
    np.testing.assert_allclose(data.boxes[0], [[1, 1, 6, 6]])


def test_truncated_wav_warns_naming_the_file(tmp_path):
    wav = encode_wav(np.full(1600, 0.1, np.float32), 16000)
    assert wav_shortfall(wav) is None
    cut = write(tmp_path / "cut.wav", wav[: len(wav) // 2])
    assert wav_shortfall(cut.read_bytes()) == (3200, len(wav) // 2 - 44)
    with pytest.warns(UserWarning, match=r"cut\.wav: truncated WAV"):
        waveform, rate = read_audio(str(cut), 16000)
    assert rate == 16000 and 0 < waveform.size < 1600
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a whole file: no warning
        decode_audio_bytes(wav, "whole.wav")
