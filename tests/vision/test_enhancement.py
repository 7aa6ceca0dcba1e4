"""vision.ImageEnhancer: denoising beats the noisy input on PSNR / SSIM after a short training
on smooth synthetic images; x2 super-resolution's export (PNG bytes in, PNG bytes out) equals
predict in a fresh TensorFlow process; bad inputs fail clearly."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import serve_in_fresh_tensorflow
from vision.enhancement import ImageEnhancer
from vision.images import encode_png


def smooth_images(count: int, size: int = 24, seed: int = 0) -> np.ndarray:
    """Sums of a few random Gaussian blobs: smooth grey images in [0, 1]."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    images = np.zeros((count, size, size, 1), np.float32)
    for image in images:
        for _ in range(3):
            cy, cx, r = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.uniform(0.1, 0.25)
            image[..., 0] += rng.uniform(0.3, 0.7) * np.exp(
                -((yy - cy) ** 2 + (xx - cx) ** 2) / r**2
            )
    return np.clip(images, 0, 1)


def test_denoiser_beats_the_noisy_input():
    enhancer = ImageEnhancer(mode="denoise", channels=1, filters=16, blocks=2, noise_std=0.15)
    enhancer.fit(smooth_images(96), epochs=6, verbose=0)
    report = enhancer.evaluate(smooth_images(16, seed=1))
    assert report["psnr"] > report["input_psnr"] + 2.0, report
    assert report["ssim"] > report["input_ssim"], report


def test_super_resolution_export_equals_predict(tmp_path):
    enhancer = ImageEnhancer(mode="super_resolution", scale=2, channels=1, filters=8, blocks=1)
    enhancer.fit(smooth_images(32), epochs=1, verbose=0)
    report = enhancer.evaluate(smooth_images(8, seed=1))
    assert set(report) == {"psnr", "ssim", "input_psnr", "input_ssim"}
    low = np.round(smooth_images(2, 12, seed=3) * 255).astype(np.uint8)
    payload = [encode_png(image) for image in low]
    results = enhancer.predict(payload)
    assert results[0]["image"].shape == (24, 24, 1)
    np.testing.assert_array_equal(enhancer.predict(low[0])["image"], results[0]["image"])
    version = enhancer.export(tmp_path / "sr")
    served = serve_in_fresh_tensorflow(
        version, {"image_bytes": np.array(payload, dtype=bytes)}, tmp_path
    )
    for png, result in zip(served["image_bytes"], results, strict=True):
        np.testing.assert_array_equal(tf.io.decode_png(bytes(png)).numpy(), result["image"])
    enhancer.save(tmp_path / "sr.keras")
    loaded = ImageEnhancer.load(tmp_path / "sr.keras")
    np.testing.assert_array_equal(loaded.predict(payload[0])["image"], results[0]["image"])


def test_bad_inputs():
    with pytest.raises(ValueError, match="scale must be one of"):
        ImageEnhancer(mode="super_resolution", scale=3)
    with pytest.raises(ValueError, match="mode must be one of"):
        ImageEnhancer(mode="sharpen")
    sr = ImageEnhancer(mode="super_resolution", scale=4, channels=1, filters=8, blocks=1)
    with pytest.raises(ValueError, match="divisible by 4"):
        sr.fit(np.zeros((4, 10, 10)), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="cannot decode image"):
        sr.predict(b"not an image")
