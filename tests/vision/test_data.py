"""Image data sources: class folders, TFDS by name, IDX files, VOC XML, built-in sets."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from vision import ImageClassifier
from vision.data import (
    load_digits,
    load_idx,
    load_image_folder,
    load_tfds_images,
    make_shapes,
    parse_voc_annotation,
)
from vision.images import encode_png


def _write_folder(root, classes, per_class=3, size=12):
    rng = np.random.default_rng(0)
    for name in classes:
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            image = rng.integers(0, 255, (size, size + 2, 3), dtype=np.uint8)
            (root / name / f"{i}.png").write_bytes(encode_png(image))


def test_image_folder_loads_every_class_in_the_models_order(tmp_path):
    _write_folder(tmp_path, ["cat", "dog"])
    dataset, names = load_image_folder(tmp_path, 16)
    assert names == ["cat", "dog"]
    labels = sorted(int(y) for _, y in dataset.as_numpy_iterator())
    assert labels == [0, 0, 0, 1, 1, 1]
    # A model whose classes list 'dog' first gets dog -> 0: labels follow the model, not the disk.
    (tmp_path / "dog" / "white.png").write_bytes(encode_png(np.full((12, 12, 3), 255, np.uint8)))
    dataset, names = load_image_folder(tmp_path, 16, ["emu", "dog", "cat"])
    white = [int(y) for x, y in dataset.as_numpy_iterator() if x.min() == 255]
    assert names == ["emu", "dog", "cat"] and white == [1]
    assert sorted(int(y) for _, y in dataset.as_numpy_iterator()) == [1, 1, 1, 1, 2, 2, 2]


def test_image_folder_rejects_unknown_class_folders(tmp_path):
    _write_folder(tmp_path, ["cat", "dog", "fox"], per_class=1)
    with pytest.raises(ValueError, match="unknown classes \\['fox'\\]"):
        load_image_folder(tmp_path, 16, ["cat", "dog"])
    with pytest.raises(ValueError, match="not found"):
        load_image_folder(tmp_path / "nope", 16)


def test_classifier_trains_from_a_folder(tmp_path):
    _write_folder(tmp_path, ["a", "b"], per_class=4)
    task = ImageClassifier(classes=["a", "b"], image_size=16, widths=[8], batch_size=4)
    history = task.fit(str(tmp_path), epochs=1, verbose=0)
    assert len(history.history["loss"]) == 1 and np.isfinite(history.history["loss"][0])


def test_tfds_images_by_name_with_mock_data():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=4):
        dataset, names = load_tfds_images("mnist", split="train")
        rows = list(dataset.as_numpy_iterator())
    assert names == [str(i) for i in range(10)] and len(rows) == 4
    assert rows[0][0].shape == (28, 28, 1)


def test_idx_reader_round_trip(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "img.gz").write_bytes(
        gzip.compress(struct.pack(">IIII", 2051, 2, 3, 4) + images.tobytes())
    )
    (tmp_path / "lbl").write_bytes(struct.pack(">II", 2049, 2) + bytes([7, 1]))
    x, y = load_idx(tmp_path / "img.gz", tmp_path / "lbl")
    np.testing.assert_array_equal(x[..., 0], images)
    assert y.tolist() == [7, 1]
    (tmp_path / "bad").write_bytes(struct.pack(">II", 2049, 3) + bytes(3))
    with pytest.raises(ValueError, match="2 images but 3 labels"):
        load_idx(tmp_path / "img.gz", tmp_path / "bad")


def test_voc_annotation_parsing(tmp_path):
    xml = tmp_path / "a.xml"
    xml.write_text(
        "<annotation><filename>a.jpg</filename><object><name>RBC</name><bndbox><xmin>1</xmin>"
        "<ymin>2</ymin><xmax>30</xmax><ymax>40</ymax></bndbox></object></annotation>"
    )
    filename, (obj,) = parse_voc_annotation(xml)
    assert filename == "a.jpg" and obj.name == "RBC" and (obj.xmin, obj.ymax) == (1.0, 40.0)
    (tmp_path / "b.xml").write_text("<annotation><object>")
    with pytest.raises(ValueError, match="not valid VOC XML"):
        parse_voc_annotation(tmp_path / "b.xml")


def test_builtin_sets_are_real_and_balanced():
    digits = load_digits()
    assert digits.images.shape == (1797, 8, 8, 1) and digits.images.max() == 255
    shapes = make_shapes(90, image_size=24, seed=1)
    assert shapes.images.shape == (90, 24, 24, 3)
    assert set(np.unique(shapes.labels)) == {0, 1, 2}
    np.testing.assert_array_equal(
        make_shapes(5, 24, seed=1).images, make_shapes(5, 24, seed=1).images
    )
