"""Detection and segmentation pictures: drawn at the image's own size, with a legend band."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from vision.draw import draw_detections, overlay_mask, palette


def _image(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def _has_colour(pixels: np.ndarray, colour) -> bool:
    return bool((np.abs(pixels.astype(int) - np.asarray(colour, int)).sum(-1) == 0).any())


def test_mask_at_model_scale_is_drawn_at_the_image_size_with_a_legend(tmp_path):
    image = np.full((40, 60, 3), 128, np.uint8)
    mask = np.zeros((20, 30), np.int32)
    mask[5:10, 5:15] = 2  # model-scale mask: half the image size
    png = overlay_mask(image, mask, tmp_path / "o.png", class_names=["bg", "road", "car"])
    picture = _image(png)
    assert picture.shape[1] == 60 and picture.shape[0] > 40  # image rows, then the legend band
    painted = (picture[:40] != 128).any(-1)
    assert painted[10:20, 10:30].all() and painted.sum() == 10 * 20  # nearest upsampling x2
    car = palette(3)[2]
    assert _has_colour(picture[40:], car) and not _has_colour(picture[40:], palette(3)[1])
    no_legend = _image(overlay_mask(image, mask, legend=False))
    assert no_legend.shape == (40, 60, 3)
    with pytest.raises(ValueError, match="aspect ratio"):
        overlay_mask(image, mask[:10])
    with pytest.raises(ValueError, match="only 2 names"):
        overlay_mask(image, mask, class_names=["bg", "road"])


def test_float_images_in_unit_range_are_not_drawn_black():
    picture = _image(overlay_mask(np.full((8, 8), 0.5, np.float32), np.zeros((8, 8), int)))
    assert picture[:8].mean() == pytest.approx(127, abs=1)


def test_detections_keep_the_image_size_and_a_stable_colour_per_class():
    image = np.zeros((50, 80, 3), np.uint8)
    classes = ["cat", "dog", "bird"]
    one = {"boxes": [[5, 5, 30, 40]], "labels": ["dog"], "scores": [0.9]}
    two = {"boxes": [[5, 5, 30, 40], [10, 50, 40, 75]], "labels": ["bird", "dog"], "scores": [1, 1]}
    first = _image(draw_detections(image, one, class_names=classes))
    second = _image(draw_detections(image, two, class_names=classes))
    assert first.shape[1] == 80 and first.shape[0] > 50 and second.shape[1] == 80
    dog = palette(3)[1]
    assert _has_colour(first[:50], dog) and _has_colour(second[:50], dog)
    assert _has_colour(second[50:], palette(3)[2]) and not _has_colour(first[50:], palette(3)[2])
    empty = draw_detections(image, {"boxes": [], "labels": [], "scores": []})
    assert _image(empty).shape == (50, 80, 3)  # nothing drawn, no legend
    with pytest.raises(ValueError, match="not in class_names"):
        draw_detections(image, one, class_names=["cat"])


def test_sample_pictures_draw_the_first_images_with_the_tasks_classes(tmp_path):
    import tensorflow as tf

    from vision.draw import sample_pictures

    class Segmenter:
        classes = ["background", "cell", "nucleus"]

        def predict_batch(self, images, **options):
            self.options = options
            return [{"mask": np.full(image.shape[:2], 2, np.int32)} for image in images]

    task = Segmenter()
    examples = tf.data.Dataset.from_tensor_slices({"image": np.zeros((6, 48, 64, 3), np.uint8)})
    pictures = sample_pictures(task, examples, overlay_mask, "overlay", key="mask", count=3, x=1)
    assert list(pictures) == ["overlay_0.png", "overlay_1.png", "overlay_2.png"]
    assert task.options == {"x": 1}
    png = pictures["overlay_1.png"](tmp_path / "one.png")
    assert png[:4] == b"\x89PNG" and (tmp_path / "one.png").read_bytes() == png
    image, mask = np.zeros((48, 64, 3), np.uint8), np.full((48, 64), 2)
    assert png == overlay_mask(image, mask, class_names=task.classes)  # the legend says "nucleus"
    assert png != overlay_mask(image, mask)  # not "class 2"
