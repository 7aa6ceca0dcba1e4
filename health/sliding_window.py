"""Sliding-window inference (as in MONAI / nnU-Net): cover an image or volume larger than the
training patch with overlapping patches, run the network on batches of them and average the
overlapping class probabilities (uniform or Gaussian importance weights).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np


def window_starts(size: int, patch: int, overlap: float) -> list[int]:
    """Start offsets covering ``size`` with windows of ``patch`` overlapping by ``overlap``."""
    if size <= patch:
        return [0]
    step = max(1, int(round(patch * (1.0 - overlap))))
    starts = list(range(0, size - patch + 1, step))
    if starts[-1] != size - patch:
        starts.append(size - patch)
    return starts


def gaussian_weights(patch_size: Sequence[int], sigma_scale: float = 0.125) -> np.ndarray:
    """Importance map peaking at the patch centre (borders see less context, count less)."""
    axes = [
        np.exp(-0.5 * ((np.arange(n) - (n - 1) / 2) / max(n * sigma_scale, 1e-6)) ** 2)
        for n in patch_size
    ]
    weights = np.ones(tuple(patch_size), np.float64)
    for i, axis in enumerate(axes):
        shape = [1] * len(patch_size)
        shape[i] = len(axis)
        weights = weights * axis.reshape(shape)
    return np.maximum(weights / weights.max(), 1e-3)


def sliding_window_inference(
    image: np.ndarray,
    patch_size: Sequence[int],
    predict: Callable[[np.ndarray], np.ndarray],
    overlap: float = 0.5,
    batch_size: int = 4,
    weighting: str = "gaussian",
    pad_mode: str = "symmetric",
) -> np.ndarray:
    """Class probabilities (*spatial, K) for ``image`` (*spatial, C) from a patch ``predict``
    that maps (B, *patch_size, C) -> (B, *patch_size, K).

    Images smaller than a patch are padded (``pad_mode``) and the result cropped back.
    """
    patch_size = tuple(int(p) for p in patch_size)
    spatial = image.shape[: len(patch_size)]
    if image.ndim != len(patch_size) + 1:
        raise ValueError(
            f"image must be (*spatial, channels) with {len(patch_size)} spatial axes, "
            f"got {image.shape}"
        )
    if not 0.0 <= overlap < 1.0:
        raise ValueError(f"overlap must be in [0, 1), got {overlap}")
    if weighting not in ("gaussian", "uniform"):
        raise ValueError(f"weighting must be 'gaussian' or 'uniform', got {weighting!r}")
    pad = [(0, max(0, p - s)) for p, s in zip(patch_size, spatial, strict=True)] + [(0, 0)]
    padded = np.pad(image, pad, mode=pad_mode) if any(p[1] for p in pad) else image
    full = padded.shape[: len(patch_size)]
    weights = gaussian_weights(patch_size) if weighting == "gaussian" else np.ones(patch_size)
    corners = list(
        itertools.product(
            *[window_starts(n, p, overlap) for n, p in zip(full, patch_size, strict=True)]
        )
    )
    total, norm = None, np.zeros(full, np.float64)
    for start in range(0, len(corners), batch_size):
        chunk = corners[start : start + batch_size]
        slices = [
            tuple(slice(c, c + p) for c, p in zip(corner, patch_size, strict=True))
            for corner in chunk
        ]
        outputs = np.asarray(predict(np.stack([padded[s] for s in slices])), np.float64)
        if total is None:
            total = np.zeros((*full, outputs.shape[-1]), np.float64)
        for s, output in zip(slices, outputs, strict=True):
            total[s] += output * weights[..., None]
            norm[s] += weights
    result = total / norm[..., None]
    return result[tuple(slice(0, n) for n in spatial)].astype(np.float32)
