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
            raise ValueError(
                f"unknown window preset {window!r}; choose one of {sorted(WINDOW_PRESETS)}"
            )
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
    image: np.ndarray,
    method: str = "zscore",
    mask: np.ndarray | None = None,
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
    shape = tuple(
        max(1, round(n * s / t))
        for n, s, t in zip(volume.shape, volume.spacing, spacing, strict=True)
    )
    zoom = [new / old for new, old in zip(shape, volume.shape, strict=True)]
    array = volume.array
    resampled = ndimage.zoom(
        array.astype(np.float32) if order else array,
        zoom,
        order=order,
        mode="nearest",
        grid_mode=True,
    )
    exact = tuple(p / n for p, n in zip(volume.physical_size, resampled.shape, strict=True))
    return Volume(
        resampled,
        exact,
        origin=volume.origin,
        modality=volume.modality,
        series_uid=volume.series_uid,
        metadata=dict(volume.metadata),
    )


def clahe(
    image: np.ndarray,
    tiles: tuple[int, int] = (8, 8),
    clip_limit: float = 2.0,
    bins: int = 256,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """Contrast-limited adaptive histogram equalisation of a 2-D image -> [0, 1] (Zuiderveld 1994).

    Each of ``tiles`` regions gets its own equalising map, with histogram bins clipped at
    ``clip_limit`` times the mean bin count (excess spread over all bins) so noise is not
    amplified; pixels blend the maps of the 4 nearest tile centres bilinearly. Used on fundus
    photographs (green channel) so thin vessels get the same contrast everywhere. With ``mask``
    (e.g. the field of view) only pixels inside it shape the histograms.
    """
    image = np.asarray(image, np.float32)
    if image.ndim != 2:
        raise ValueError(f"clahe takes a 2-D image, got shape {image.shape}")
    if not np.all(np.isfinite(image)):
        raise ValueError("the image holds NaN or infinite values")
    if clip_limit < 1 or bins < 2 or min(tiles) < 1:
        raise ValueError(
            f"need clip_limit >= 1, bins >= 2 and tiles >= 1, got {clip_limit}, {bins}, {tiles}"
        )
    inside = np.ones(image.shape, bool) if mask is None else np.asarray(mask, bool)
    if inside.shape != image.shape:
        raise ValueError(f"mask shape {inside.shape} differs from image shape {image.shape}")
    if not inside.any():
        raise ValueError("clahe mask selects no pixels")
    low, high = float(image[inside].min()), float(image[inside].max())
    levels = np.clip(
        ((image - low) / max(high - low, 1e-6) * (bins - 1)).round(), 0, bins - 1
    ).astype(np.int64)
    ty, tx = (int(t) for t in tiles)
    rows, cols = image.shape
    row_edges = np.linspace(0, rows, ty + 1).round().astype(int)
    col_edges = np.linspace(0, cols, tx + 1).round().astype(int)
    maps = np.empty((ty, tx, bins), np.float32)
    for i in range(ty):
        for j in range(tx):
            window = (slice(row_edges[i], row_edges[i + 1]), slice(col_edges[j], col_edges[j + 1]))
            values = levels[window][inside[window]]
            if values.size == 0:
                maps[i, j] = np.arange(bins) / (bins - 1)
                continue
            hist = np.bincount(values, minlength=bins).astype(np.float64)
            limit = clip_limit * values.size / bins
            excess = np.maximum(hist - limit, 0).sum()
            hist = np.minimum(hist, limit) + excess / bins
            maps[i, j] = np.cumsum(hist) / hist.sum()

    def neighbours(
        n_pixels: int, edges: np.ndarray, n_tiles: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        centres = (edges[:-1] + edges[1:] - 1) / 2.0
        position = (
            np.interp(np.arange(n_pixels), centres, np.arange(n_tiles))
            if n_tiles > 1
            else np.zeros(n_pixels)
        )
        first = np.minimum(np.floor(position).astype(int), max(n_tiles - 2, 0))
        second = np.minimum(first + 1, n_tiles - 1)
        return first, second, (position - first).astype(np.float32)

    y0, y1, wy = neighbours(rows, row_edges, ty)
    x0, x1, wx = neighbours(cols, col_edges, tx)
    y0, y1, wy = y0[:, None], y1[:, None], wy[:, None]
    top = maps[y0, x0, levels] * (1 - wx) + maps[y0, x1, levels] * wx
    bottom = maps[y1, x0, levels] * (1 - wx) + maps[y1, x1, levels] * wx
    return (top * (1 - wy) + bottom * wy).astype(np.float32)
