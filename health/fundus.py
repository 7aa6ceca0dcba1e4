"""Fundus photograph preprocessing for retinal vessel segmentation, in core TF ops (export-safe).

The recipe (DRIVE): take the green channel (vessels contrast best there), find the field of view
(FOV: the bright disc of the photograph; the red channel above ``fov_threshold`` on a 0-255
scale), equalise contrast with CLAHE inside the FOV (``tiles`` regions, histogram bins clipped at
``clip_limit`` times the mean count, excess spread over all bins, the maps of the 4 nearest tile
centres blended bilinearly: Zuiderveld 1994, the same computation as ``health.windowing.clahe``),
then z-score inside the FOV and 0 outside. ``symmetric_probabilities`` averages a model's
probabilities over the flips (4) or all 8 symmetries of the square, each undone after predicting.

Everything runs in one graph, so ``MedicalSegmenter(preprocessing="fundus")`` serves raw RGB or
encoded image bytes and Python ``predict`` runs the very same ops.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import tensorflow as tf

BINS = 256


def estimate_fov(image: tf.Tensor, threshold: float = 20.0) -> tf.Tensor:
    """``[H, W, C]`` (0-255) -> bool ``[H, W]``: the red channel (or the only one) >
    ``threshold``."""
    image = tf.convert_to_tensor(image, tf.float32)
    return image[..., 0] > threshold


def _interp_positions(n_pixels: tf.Tensor, edges: tf.Tensor, n_tiles: int) -> tuple:
    """Per pixel: first / second tile index and the weight of the second (np.interp, clamped)."""
    pixels = tf.cast(tf.range(n_pixels), tf.float32)
    if n_tiles == 1:
        zeros = tf.zeros_like(pixels, tf.int32)
        return zeros, zeros, tf.zeros_like(pixels)
    centres = (edges[:-1] + edges[1:] - 1.0) / 2.0
    below = tf.reduce_sum(tf.cast(pixels[:, None] >= centres[None, :], tf.int32), axis=1) - 1
    k = tf.clip_by_value(below, 0, n_tiles - 2)
    c0, c1 = tf.gather(centres, k), tf.gather(centres, k + 1)
    position = tf.cast(k, tf.float32) + (pixels - c0) / (c1 - c0)
    position = tf.clip_by_value(position, 0.0, float(n_tiles - 1))
    first = tf.minimum(tf.cast(tf.floor(position), tf.int32), n_tiles - 2)
    second = tf.minimum(first + 1, n_tiles - 1)
    return first, second, position - tf.cast(first, tf.float32)


def clahe(
    image: tf.Tensor,
    mask: tf.Tensor,
    tiles: Sequence[int] = (8, 8),
    clip_limit: float = 2.0,
    bins: int = BINS,
) -> tf.Tensor:
    """CLAHE of a 2-D float image inside ``mask`` -> ``[H, W]`` in [0, 1] (core TF ops)."""
    image = tf.convert_to_tensor(image, tf.float32)
    mask = tf.convert_to_tensor(mask, tf.bool)
    ty, tx = (int(t) for t in tiles)
    rows, cols = tf.shape(image)[0], tf.shape(image)[1]
    inside = tf.boolean_mask(image, mask)
    low = tf.reduce_min(inside)
    high = tf.reduce_max(inside)
    scaled = (image - low) / tf.maximum(high - low, 1e-6) * (bins - 1)
    levels = tf.cast(tf.clip_by_value(tf.round(scaled), 0, bins - 1), tf.int32)

    def edges(n: tf.Tensor, count: int) -> tf.Tensor:
        return tf.round(tf.linspace(0.0, tf.cast(n, tf.float32), count + 1))

    row_edges, col_edges = edges(rows, ty), edges(cols, tx)
    row_tile = tf.reduce_sum(
        tf.cast(tf.cast(tf.range(rows), tf.float32)[:, None] >= row_edges[None, 1:-1], tf.int32),
        axis=1,
    )
    col_tile = tf.reduce_sum(
        tf.cast(tf.cast(tf.range(cols), tf.float32)[:, None] >= col_edges[None, 1:-1], tf.int32),
        axis=1,
    )
    tile = row_tile[:, None] * tx + col_tile[None, :]
    bucket = tf.boolean_mask(tile * bins + levels, mask)
    hist = tf.reshape(
        tf.math.unsorted_segment_sum(tf.ones_like(bucket, tf.float32), bucket, ty * tx * bins),
        [ty * tx, bins],
    )
    count = tf.reduce_sum(hist, axis=1, keepdims=True)
    limit = clip_limit * count / bins
    excess = tf.reduce_sum(tf.maximum(hist - limit, 0.0), axis=1, keepdims=True)
    hist = tf.minimum(hist, limit) + excess / bins
    identity = tf.range(bins, dtype=tf.float32)[None, :] / (bins - 1)
    maps = tf.where(
        count > 0,
        tf.math.cumsum(hist, axis=1)
        / tf.maximum(tf.reduce_sum(hist, axis=1, keepdims=True), 1e-12),
        identity,
    )
    flat_maps = tf.reshape(maps, [-1])
    y0, y1, wy = _interp_positions(rows, row_edges, ty)
    x0, x1, wx = _interp_positions(cols, col_edges, tx)
    y0, y1, wy = y0[:, None], y1[:, None], wy[:, None]

    def lookup(ys: tf.Tensor, xs: tf.Tensor) -> tf.Tensor:
        return tf.gather(flat_maps, (ys * tx + xs[None, :]) * bins + levels)

    top = lookup(y0, x0) * (1 - wx) + lookup(y0, x1) * wx
    bottom = lookup(y1, x0) * (1 - wx) + lookup(y1, x1) * wx
    return top * (1 - wy) + bottom * wy


def preprocess_fundus(
    image: tf.Tensor,
    fov_threshold: float = 20.0,
    tiles: Sequence[int] = (8, 8),
    clip_limit: float = 2.0,
    fov: tf.Tensor | None = None,
) -> tf.Tensor:
    """``[H, W, C]`` fundus photo (0-255; RGB or its green channel) -> ``[H, W]`` float32.

    Green channel, CLAHE inside the FOV, z-score inside the FOV, 0 outside. The FOV is
    estimated from the red channel (``estimate_fov``) unless ``fov`` is given; an image whose
    FOV comes out empty (no pixel above the threshold) is taken whole.
    """
    image = tf.convert_to_tensor(image, tf.float32)
    if image.shape.rank == 2:
        image = image[..., None]
    channels = tf.shape(image)[-1]
    green = tf.cond(channels >= 3, lambda: image[..., 1], lambda: image[..., 0])
    if fov is None:
        fov = tf.cond(
            channels >= 3,
            lambda: estimate_fov(image, fov_threshold),
            lambda: tf.ones(tf.shape(green), tf.bool),
        )
    fov = tf.convert_to_tensor(fov, tf.bool)
    fov = tf.cond(tf.reduce_any(fov), lambda: fov, lambda: tf.ones_like(fov))
    enhanced = clahe(green, fov, tiles, clip_limit)
    values = tf.boolean_mask(enhanced, fov)
    mean = tf.reduce_mean(values)
    std = tf.maximum(tf.math.reduce_std(values), 1e-6)
    return tf.where(fov, (enhanced - mean) / std, 0.0)


def symmetric_probabilities(
    predict: Callable[[tf.Tensor], tf.Tensor], images: tf.Tensor, symmetries: int
) -> tf.Tensor:
    """Mean of ``predict`` ([N, H, W, C] -> [N, H, W, K]) over 1, 4 (flips) or 8 symmetries."""
    if symmetries not in (1, 4, 8):
        raise ValueError(f"test-time symmetries must be 1, 4 or 8, got {symmetries}")
    if symmetries == 1:
        return predict(images)
    maps = []
    for transposed in (False, True)[: symmetries // 4]:
        base = tf.transpose(images, [0, 2, 1, 3]) if transposed else images
        for axes in ([], [1], [2], [1, 2]):
            out = predict(tf.reverse(base, axes) if axes else base)
            out = tf.reverse(out, axes) if axes else out
            maps.append(tf.transpose(out, [0, 2, 1, 3]) if transposed else out)
    return tf.add_n(maps) / float(len(maps))
