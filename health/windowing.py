"""Intensity handling: CT window presets and level/width windowing (NumPy and in-graph TF),
resampling to a target spacing, and intensity normalisation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from health.volume import Volume

#: (level, width) in Hounsfield units, the usual radiology presets.
WINDOW_PRESETS: dict[str, tuple[float, float]] = {
    "lung": (-600.0, 1500.0),
    "mediastinum": (50.0, 350.0),
    "bone": (400.0, 1800.0),
    "brain": (40.0, 80.0),
    "abdomen": (40.0, 400.0),
    "soft_tissue": (50.0, 400.0),
    "liver": (60.0, 160.0),
}


def resolve_window(window: str | Sequence[float]) -> tuple[float, float]:
    """A preset name or a (level, width) pair -> (level, width), checked."""
    if isinstance(window, str):
        if window not in WINDOW_PRESETS:
            raise ValueError(f"unknown window preset {window!r}; choose one of {sorted(WINDOW_PRESETS)}")
        return WINDOW_PRESETS[window]
    values = [float(v) for v in window]
    if len(values) != 2:
        raise ValueError(f"a window is (level, width), got {window!r}")
    if values[1] <= 0:
        raise ValueError(f"window width must be positive, got {values[1]}")
    return values[0], values[1]


def apply_window(image: np.ndarray, window: str | Sequence[float] = "abdomen") -> np.ndarray:
    """HU -> [0, 1]: ``clip((v - (level - width / 2)) / width, 0, 1)`` (linear window)."""
    level, width = resolve_window(window)
    low = level - width / 2.0
    return np.clip((np.asarray(image, np.float32) - low) / width, 0.0, 1.0).astype(np.float32)


def window_tf(image, window: str | Sequence[float]):
    """The same window in TensorFlow (core ops only), for exported graphs."""
    import tensorflow as tf

    level, width = resolve_window(window)
    return tf.clip_by_value((tf.cast(image, tf.float32) - (level - width / 2.0)) / width, 0.0, 1.0)


def normalize(
    image: np.ndarray, method: str = "zscore", mask: np.ndarray | None = None,
    percentiles: tuple[float, float] = (0.5, 99.5),
) -> np.ndarray:
    """Intensity normalisation for MR / raw images: ``zscore`` (mean 0, std 1 over ``mask`` or all
    voxels), ``minmax`` (to [0, 1]) or ``percentile`` (clip to percentiles, then [0, 1])."""
    image = np.asarray(image, np.float32)
    if not np.all(np.isfinite(image)):
        raise ValueError("the image holds NaN or infinite values")
    values = image[mask.astype(bool)] if mask is not None else image.ravel()
    if values.size == 0:
        raise ValueError("normalisation mask selects no voxels")
    if method == "zscore":
        return (image - values.mean()) / max(float(values.std()), 1e-6)
    if method == "minmax":
        low, high = float(values.min()), float(values.max())
    elif method == "percentile":
        low, high = (float(v) for v in np.percentile(values, percentiles))
    else:
        raise ValueError(f"unknown normalisation {method!r}; choose zscore, minmax or percentile")
    return np.clip((image - low) / max(high - low, 1e-6), 0.0, 1.0)


def resample(volume: Volume, spacing: Sequence[float], order: int = 1) -> Volume:
    """Resample to ``spacing`` (mm, array axis order) with spline ``order`` (0 for label maps).

    The new shape is ``round(shape * old / new)``; the spacing returned is the exact one of the
    new grid (``physical size / new shape``), so the physical extent is preserved.
    """
    from scipy import ndimage

    spacing = tuple(float(s) for s in spacing)
    if len(spacing) != volume.ndim or any(s <= 0 for s in spacing):
        raise ValueError(f"target spacing {spacing} must be {volume.ndim} positive values")
    shape = tuple(max(1, round(n * s / t)) for n, s, t in zip(volume.shape, volume.spacing, spacing, strict=True))
    zoom = [new / old for new, old in zip(shape, volume.shape, strict=True)]
    array = volume.array
    resampled = ndimage.zoom(array.astype(np.float32) if order else array, zoom, order=order, mode="nearest", grid_mode=True)
    exact = tuple(p / n for p, n in zip(volume.physical_size, resampled.shape, strict=True))
    return Volume(resampled, exact, origin=volume.origin, modality=volume.modality,
                  series_uid=volume.series_uid, metadata=dict(volume.metadata))
