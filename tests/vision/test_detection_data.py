"""Detection loaders: COCO JSON and VOC folders written here, TFDS via mock data, bad
annotations."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vision.detection.data import (
    DetectionSet,
    load_coco,
    load_tfds_detection,
    load_voc,
    make_shape_scenes,
)
from vision.images import encode_png


def _image(path, height=40, width=60):
    path.write_bytes(encode_png(np.full((height, width, 3), 90, np.uint8)))


def _coco(tmp_path, annotations, categories=None):
    _image(tmp_path / "a.png")
    _image(tmp_path / "b.png")
    content = {
        "images": [
            {"id": 1, "file_name": "a.png", "height": 40, "width": 60},
            {"id": 2, "file_name": "b.png", "height": 40, "width": 60},
        ],
        "annotations": annotations,
        "categories": categories or [{"id": 3, "name": "cat"}, {"id": 7, "name": "dog"}],
    }
    path = tmp_path / "instances.json"
    path.write_text(json.dumps(content))
    return path


def test_coco_loader(tmp_path):
    path = _coco(
        tmp_path,
        [
            {"id": 1, "image_id": 1, "category_id": 7, "bbox": [10, 5, 20, 10]},
            {"id": 2, "image_id": 1, "category_id": 3, "bbox": [0, 0, 4, 4]},
            {"id": 3, "image_id": 1, "category_id": 3, "bbox": [0, 0, 4, 4], "iscrowd": 1},
        ],
    )
    with pytest.warns(UserWarning, match="1 COCO crowd"):
        data = load_coco(path)
    assert data.class_names == ["cat", "dog"]
    np.testing.assert_array_equal(data.boxes[0], [[5, 10, 15, 30], [0, 0, 4, 4]])
    assert data.labels[0].tolist() == [1, 0]
    assert len(data.boxes[1]) == 0  # an image without objects is kept as background
    example = next(iter(data.to_dataset()))
    assert example["image"].shape == (40, 60, 3)
    np.testing.assert_array_equal(example["boxes"].numpy(), data.boxes[0])


def test_coco_bad_annotations_are_clipped_dropped_or_rejected(tmp_path):
    path = _coco(
        tmp_path,
        [
            {"id": 1, "image_id": 1, "category_id": 7, "bbox": [50, 30, 30, 30]},  # reaches outside
            {"id": 2, "image_id": 1, "category_id": 7, "bbox": [10, 10, 0, 5]},  # zero area
            {"id": 3, "image_id": 2, "category_id": 3, "bbox": [70, 50, 5, 5]},  # fully outside
        ],
    )
    with pytest.warns(
        UserWarning, match=r"2 box\(es\) reaching outside.*2 box\(es\) with zero area"
    ):
        data = load_coco(path)
    np.testing.assert_array_equal(data.boxes[0], [[30, 50, 40, 60]])
    assert data.num_boxes == 1
    with pytest.raises(ValueError, match="unknown classes"):
        load_coco(path, class_names=["dog"])
    bad = _coco(tmp_path, [{"id": 1, "image_id": 1, "category_id": 99, "bbox": [0, 0, 4, 4]}])
    with pytest.raises(ValueError, match="unknown category_id 99"):
        load_coco(bad)
    nan = _coco(
        tmp_path, [{"id": 1, "image_id": 1, "category_id": 3, "bbox": [0, float("nan"), 4, 4]}]
    )
    with pytest.raises(ValueError, match="finite"):
        load_coco(nan)


def _voc(root, objects, name="img1"):
    (root / "Annotations").mkdir(parents=True, exist_ok=True)
    (root / "JPEGImages").mkdir(exist_ok=True)
    _image(root / "JPEGImages" / f"{name}.jpg", 50, 80)
    body = "".join(
        f"<object><name>{n}</name><bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin><xmax>{x1}</xmax>"
        f"<ymax>{y1}</ymax></bndbox></object>"
        for n, x0, y0, x1, y1 in objects
    )
    (root / "Annotations" / f"{name}.xml").write_text(
        f"<annotation><filename>{name}.jpg</filename>{body}</annotation>"
    )


def test_voc_loader_reads_splits_boxes_and_rejects_unknown_classes(tmp_path):
    _voc(tmp_path, [("RBC", 10, 5, 30, 25), ("WBC", 40, 10, 90, 45)], "img1")
    _voc(tmp_path, [], "img2")
    (tmp_path / "ImageSets" / "Main").mkdir(parents=True)
    (tmp_path / "ImageSets" / "Main" / "train.txt").write_text("img1\n")
    with pytest.warns(UserWarning, match="1 box"):
        data = load_voc(tmp_path, "train")
    assert len(data) == 1 and data.class_names == ["RBC", "WBC"]
    np.testing.assert_array_equal(data.boxes[0], [[5, 10, 25, 30], [10, 40, 45, 80]])
    everything = load_voc(tmp_path, split=None, class_names=["RBC", "WBC", "Platelets"])
    assert len(everything) == 2 and everything.num_boxes == 2
    with pytest.raises(ValueError, match=r"unknown classes \['WBC'\]"):
        load_voc(tmp_path, "train", class_names=["RBC"])
    with pytest.raises(ValueError, match="val.txt"):
        load_voc(tmp_path, "val")
    _voc(tmp_path, [("RBC", 30, 5, 10, 25)], "img3")
    with pytest.raises(ValueError, match="max < min"):
        load_voc(tmp_path, split=None)


@pytest.mark.parametrize(("name", "num_classes"), [("voc/2007", 20), ("coco/2017", 80)])
def test_tfds_detection_loader_with_mock_data(name, num_classes):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=3):
        dataset, names = load_tfds_detection(name, split="train")
        examples = list(dataset.take(3))
    assert len(names) == num_classes
    assert len(examples) == 3
    for example in examples:
        height, width = example["image"].shape[:2]
        boxes = example["boxes"].numpy()
        assert (
            boxes.shape[1] == 4
            and (boxes[:, 2] <= height + 1e-3).all()
            and (boxes[:, 3] <= width + 1e-3).all()
        )
        assert example["labels"].shape[0] == boxes.shape[0]


def test_detection_set_validation_and_synthetic_scenes():
    with pytest.raises(ValueError, match="2 boxes but 1 labels"):
        DetectionSet([np.zeros((8, 8, 3))], [np.zeros((2, 4))], [np.zeros(1)], ["a"])
    with pytest.raises(ValueError, match="label indices"):
        DetectionSet([np.zeros((8, 8, 3))], [np.zeros((1, 4))], [np.array([3])], ["a"])
    scenes = make_shape_scenes(6, 64, max_objects=3, seed=0)
    again = make_shape_scenes(6, 64, max_objects=3, seed=0)
    np.testing.assert_array_equal(scenes.images[0], again.images[0])
    assert scenes.class_names == ["circle", "square", "triangle"]
    for image, boxes, labels, mask in zip(
        scenes.images, scenes.boxes, scenes.labels, scenes.masks, strict=True
    ):
        assert image.shape == (64, 64, 3) and 1 <= len(boxes) <= 3
        assert (boxes[:, 2:] > boxes[:, :2]).all() and boxes.min() >= 0 and boxes.max() <= 64
        assert set(np.unique(mask)) - {0} <= {int(v) + 1 for v in labels}
    train, val = scenes.split(0.5)
    assert len(train) == 3 and len(val) == 3


def test_in_memory_sets_clip_and_drop_boxes_with_a_warning():
    with pytest.warns(
        UserWarning, match=r"1 box\(es\) reaching outside.*1 box\(es\) with zero area"
    ):
        data = DetectionSet(
            [np.zeros((20, 30, 3), np.uint8)],
            [[[5, 5, 25, 40], [3, 3, 3, 9]]],
            [[0, 1]],
            ["a", "b"],
        )
    np.testing.assert_array_equal(data.boxes[0], [[5, 5, 20, 30]])
    assert data.labels[0].tolist() == [0]
    with pytest.raises(ValueError, match="max < min"):
        DetectionSet([np.zeros((20, 30, 3))], [[[9, 5, 2, 8]]], [[0]], ["a"])
