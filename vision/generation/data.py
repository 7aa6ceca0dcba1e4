"""Data for the image generator: Fashion-MNIST IDX files, a synthetic two-mode set whose modes
can be counted (tests), and the "what the user has -> float [0, 1] images + label indices"
conversion the task trains on."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from vision.data import ImageArrays, load_idx

FASHION_CLASSES = [
    "t-shirt",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle-boot",
]
TWO_MODES = ["horizontal", "vertical"]


def load_fashion_mnist(folder: str | os.PathLike) -> ImageArrays:
    """The Fashion-MNIST IDX pair in ``folder`` -> (N, 28, 28, 1) uint8 images and labels."""
    folder = Path(folder)
    images = folder / "train-images-idx3-ubyte.gz"
    labels = folder / "train-labels-idx1-ubyte.gz"
    if not images.is_file() or not labels.is_file():
        raise ValueError(f"{folder} does not hold train-images/labels-idx*-ubyte.gz")
    x, y = load_idx(images, labels)
    return ImageArrays(x, y, list(FASHION_CLASSES))


def mode_templates(size: int = 16) -> np.ndarray:
    """The two modes' clean images (2, size, size): a horizontal and a vertical centre bar."""
    templates = np.zeros((2, size, size), np.float32)
    lo, hi = size // 2 - size // 8, size // 2 + size // 8
    templates[0, lo:hi, :] = 1.0
    templates[1, :, lo:hi] = 1.0
    return templates


def make_two_modes(count: int = 256, size: int = 16, seed: int = 0) -> ImageArrays:
    """Half horizontal bars, half vertical bars, shifted by up to one pixel, with faint noise:
    a distribution with two well separated modes (labels say which)."""
    rng = np.random.default_rng(seed)
    templates = mode_templates(size)
    labels = np.arange(count) % 2
    images = np.empty((count, size, size), np.float32)
    for i, label in enumerate(labels):
        shift = int(rng.integers(-1, 2))
        images[i] = np.roll(templates[label], shift, axis=int(label == 0))
    images += rng.normal(0.0, 0.03, images.shape).astype(np.float32)
    images = np.clip(images, 0.0, 1.0)[..., None]
    return ImageArrays(images, labels.astype(np.int32), list(TWO_MODES))


def mode_assignments(images: np.ndarray, threshold: float = 0.6) -> np.ndarray:
    """Each image's mode (0 horizontal, 1 vertical) by its best correlation with the templates
    of ``mode_templates`` allowing one-pixel shifts, or -1 when no correlation reaches
    ``threshold`` (the image is on neither mode)."""
    images = np.asarray(images, np.float32)
    flat = images.reshape(len(images), -1)
    flat = flat - flat.mean(axis=1, keepdims=True)
    flat /= np.linalg.norm(flat, axis=1, keepdims=True) + 1e-8
    size = images.shape[1]
    scores = np.full((len(images), 2), -1.0)
    for mode, template in enumerate(mode_templates(size)):
        for shift in (-1, 0, 1):
            t = np.roll(template, shift, axis=int(mode == 0)).ravel()
            t = (t - t.mean()) / (np.linalg.norm(t - t.mean()) + 1e-8)
            scores[:, mode] = np.maximum(scores[:, mode], flat @ t)
    best = scores.argmax(axis=1)
    return np.where(scores.max(axis=1) >= threshold, best, -1)


def as_unit_images(images: Any) -> np.ndarray:
    """Images (N, H, W[, C]) as float32 in [0, 1]: integer arrays (or floats above 1) are read
    as [0, 255]."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3, 4):
        raise ValueError(
            f"expected images of shape (N, H, W) or (N, H, W, 1|3|4), got {images.shape}"
        )
    if images.dtype.kind not in "uif" or not np.isfinite(images).all():
        raise ValueError("images must be finite numbers")
    scaled = images.astype(np.float32)
    if images.dtype.kind in "ui" or (scaled.size and scaled.max() > 1.0):
        scaled = scaled / 255.0
    return np.clip(scaled[..., :3], 0.0, 1.0)
