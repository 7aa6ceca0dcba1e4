"""Fundus preprocessing in core TF ops, and the segmenter's fundus path: Python == export."""

from __future__ import annotations

import io

import numpy as np
import pytest

from common.export import non_core_ops
from health import fundus
from health.segmentation import MedicalSegmenter
from health.windowing import clahe as numpy_clahe
from health.windowing import normalize


def fundus_like(seed: int, size: int = 48) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A synthetic fundus photo: an orange disc on black with dark curved vessels; (rgb, vessels,
    fov)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    centre = size / 2 - 0.5
    fov = (yy - centre) ** 2 + (xx - centre) ** 2 < (size * 0.46) ** 2
    vessels = np.zeros((size, size), bool)
    for _ in range(3):
        a, b, c = rng.uniform(-0.02, 0.02), rng.uniform(-0.8, 0.8), rng.uniform(5, size - 5)
        line = a * (xx - centre) ** 2 + b * (xx - centre) + c
        vessels |= np.abs(yy - line) < rng.uniform(0.8, 1.8)
    vessels &= fov
    shade = 0.7 + 0.3 * (1 - ((yy - centre) ** 2 + (xx - centre) ** 2) / (size / 2) ** 2)
    rgb = np.zeros((size, size, 3), np.float32)
    rgb[..., 0] = 190 * shade
    rgb[..., 1] = 110 * shade - 45 * vessels
    rgb[..., 2] = 40 * shade
    rgb += rng.normal(0, 3, rgb.shape)
    rgb = np.clip(np.where(fov[..., None], rgb, rng.uniform(0, 8, rgb.shape)), 0, 255)
    return rgb.round().astype(np.uint8), vessels.astype(np.int32), fov


@pytest.mark.parametrize("tiles", [(8, 8), (3, 5), (1, 1)])
def test_core_op_clahe_equals_the_numpy_reference(tiles):
    rng = np.random.default_rng(0)
    image = rng.normal(100, 30, (37, 53)).astype(np.float32)
    yy, xx = np.mgrid[:37, :53]
    mask = (yy - 18) ** 2 + (xx - 26) ** 2 < 17**2
    expected = numpy_clahe(image, tiles=tiles, mask=mask)
    np.testing.assert_allclose(fundus.clahe(image, mask, tiles).numpy(), expected, atol=1e-5)


def test_preprocessing_equals_the_bench_recipe_and_finds_the_fov():
    rgb, _, fov = fundus_like(0, size=64)
    found = fundus.estimate_fov(rgb).numpy()
    assert (found == fov).mean() > 0.99
    green = rgb[..., 1].astype(np.float32)
    expected = np.where(fov, normalize(numpy_clahe(green, mask=fov), "zscore", mask=fov), 0.0)
    given = fundus.preprocess_fundus(rgb.astype(np.float32), fov=fov).numpy()
    np.testing.assert_allclose(given, expected, atol=1e-4)
    estimated = fundus.preprocess_fundus(rgb.astype(np.float32)).numpy()
    assert np.all(estimated[~found] == 0.0)
    assert abs(estimated[found].mean()) < 1e-4 and abs(estimated[found].std() - 1) < 1e-3
    # the green channel alone: the whole image is the field of view
    assert fundus.preprocess_fundus(green).shape == green.shape


def test_symmetries_average_and_undo_each_flip():
    import tensorflow as tf

    images = tf.random.uniform([2, 8, 8, 1], seed=1)
    identity = lambda x: tf.concat([x, 1 - x], -1)  # noqa: E731  (equivariant: averages to itself)
    for k in (1, 4, 8):
        out = fundus.symmetric_probabilities(identity, images, k)
        np.testing.assert_allclose(out.numpy(), identity(images).numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="1, 4 or 8"):
        fundus.symmetric_probabilities(identity, images, 2)


@pytest.fixture(scope="module")
def vessel_segmenter():
    images, masks = zip(*(fundus_like(i)[:2] for i in range(12)), strict=True)
    segmenter = MedicalSegmenter(
        classes=["background", "vessel"],
        patch_size=[32, 32],
        widths=[8, 16],
        window=None,
        preprocessing="fundus",
        threshold=0.4,
        test_time_symmetries=8,
        patches_per_epoch=64,
        batch_size=16,
        learning_rate=5e-3,
    )
    segmenter.fit((list(images), list(masks)), epochs=2, verbose=0)
    return segmenter


def test_fundus_options_are_validated():
    with pytest.raises(ValueError, match="channels=1 and window=None"):
        MedicalSegmenter(preprocessing="fundus")
    with pytest.raises(ValueError, match="threshold"):
        MedicalSegmenter(threshold=1.5, window=None)
    with pytest.raises(ValueError, match="1, 4 or 8"):
        MedicalSegmenter(test_time_symmetries=3)


def test_fundus_export_agrees_with_python_on_a_raw_image(vessel_segmenter, tmp_path):
    import tensorflow as tf
    from PIL import Image

    rgb, _, _ = fundus_like(99, size=50)  # not a multiple of the U-Net factor
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    png = buffer.getvalue()
    python = vessel_segmenter.predict(rgb, return_probabilities=True)
    from_bytes = vessel_segmenter.predict(png, return_probabilities=True)
    np.testing.assert_array_equal(python["mask"], from_bytes["mask"])
    probabilities = python["probabilities"]
    assert probabilities.shape == (50, 50, 2)
    np.testing.assert_array_equal(python["mask"], (probabilities[..., 1] >= 0.4).astype(np.int32))

    version = vessel_segmenter.export(tmp_path / "vessels")
    assert non_core_ops(version) == []
    loaded = tf.saved_model.load(str(version))
    served = loaded.signatures["serving_default"](image_bytes=tf.constant([png, png]))
    np.testing.assert_allclose(served["probabilities"][0].numpy(), probabilities, atol=1e-5)
    np.testing.assert_array_equal(served["mask"][1].numpy(), python["mask"])
    served_rgb = loaded.signatures["rgb"](rgb=tf.constant(rgb[None].astype(np.float32)))
    np.testing.assert_allclose(served_rgb["probabilities"][0].numpy(), probabilities, atol=1e-5)


def test_fundus_predict_refuses_bad_images(vessel_segmenter):
    with pytest.raises(ValueError, match="cannot read"):
        vessel_segmenter.predict(b"not an image")
    with pytest.raises(ValueError, match="shape"):
        vessel_segmenter.predict(np.zeros((4, 4, 2)))
