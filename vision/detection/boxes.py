"""Box geometry for the dense (FCOS-style) detector: feature-map points, target assignment,
distance encoding/decoding, IoU and in-graph non-max suppression.

Boxes are ``[ymin, xmin, ymax, xmax]`` (the TensorFlow convention) in pixels of the model input
unless a name says ``normalized``. Every function is plain TensorFlow so the same code runs in the
``tf.data`` pipeline, in ``predict`` and inside the exported serving graph (core ops only).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

#: Stands for infinity in size ranges and in the dummy box of object-free images.
INF = 1e8


def level_ranges(strides: Sequence[int], scale: float = 4.0) -> list[tuple[float, float]]:
    """Size range of each pyramid level: level i takes objects whose largest point-to-edge
    distance lies in [scale * s_i / 2, scale * s_i); the first starts at 0, the last never ends.

    FCOS uses ``scale=8`` for 800-pixel inputs; 4 suits the small inputs this suite trains on.
    """
    ranges = []
    for i, stride in enumerate(strides):
        low = 0.0 if i == 0 else scale * stride / 2.0
        high = INF if i == len(strides) - 1 else scale * stride
        ranges.append((low, high))
    return ranges


def feature_points(
    image_size: int, strides: Sequence[int], range_scale: float = 4.0
) -> dict[str, np.ndarray]:
    """Centres of every feature-map cell of every level, concatenated level after level.

    Returns ``points`` (N, 2) as (y, x) pixels, ``strides`` (N,) and ``ranges`` (N, 2), the
    order in which the detector head concatenates its per-level outputs.
    """
    points, point_strides, point_ranges = [], [], []
    for stride, bounds in zip(strides, level_ranges(strides, range_scale), strict=True):
        cells = -(-image_size // stride)  # ceil: a "same"-padded stride-s conv output size
        centres = (np.arange(cells, dtype=np.float32) + 0.5) * stride
        yy, xx = np.meshgrid(centres, centres, indexing="ij")
        points.append(np.stack([yy.ravel(), xx.ravel()], axis=-1))
        point_strides.append(np.full(cells * cells, stride, np.float32))
        point_ranges.append(np.tile(np.array(bounds, np.float32), (cells * cells, 1)))
    return {
        "points": np.concatenate(points).astype(np.float32),
        "strides": np.concatenate(point_strides),
        "ranges": np.concatenate(point_ranges),
    }


def encode_distances(points: tf.Tensor, boxes: tf.Tensor, strides: tf.Tensor) -> tf.Tensor:
    """(N, 2) points and (N, 4) boxes -> (N, 4) distances (left, top, right, bottom) / stride."""
    y, x = points[:, 0], points[:, 1]
    s = strides
    return tf.stack(
        [
            (x - boxes[:, 1]) / s,
            (y - boxes[:, 0]) / s,
            (boxes[:, 3] - x) / s,
            (boxes[:, 2] - y) / s,
        ],
        axis=-1,
    )


def decode_distances(points: tf.Tensor, distances: tf.Tensor, strides: tf.Tensor) -> tf.Tensor:
    """Inverse of ``encode_distances``; ``distances`` may carry leading batch axes (..., N, 4)."""
    y, x = points[:, 0], points[:, 1]
    s = strides
    left, top = distances[..., 0] * s, distances[..., 1] * s
    right, bottom = distances[..., 2] * s, distances[..., 3] * s
    return tf.stack([y - top, x - left, y + bottom, x + right], axis=-1)


def centerness(distances: tf.Tensor) -> tf.Tensor:
    """FCOS centre-ness of (…, 4) ltrb distances: 1 at a box centre, 0 at its edge."""
    left, top, right, bottom = tf.unstack(distances, axis=-1)
    horizontal = tf.minimum(left, right) / tf.maximum(tf.maximum(left, right), 1e-9)
    vertical = tf.minimum(top, bottom) / tf.maximum(tf.maximum(top, bottom), 1e-9)
    return tf.sqrt(tf.maximum(horizontal * vertical, 0.0))


def assign_targets(
    boxes: tf.Tensor,
    labels: tf.Tensor,
    points: tf.Tensor,
    strides: tf.Tensor,
    ranges: tf.Tensor,
    num_classes: int,
    center_radius: float = 1.5,
) -> tf.Tensor:
    """FCOS target assignment for one image -> packed targets (N, num_classes + 5).

    A point is positive for a box when it lies inside the box, within ``center_radius`` strides
    of its centre, and the box's largest distance falls in the point's level range; among several
    such boxes the smallest wins. Columns: one-hot class (all zero = background), ltrb distances
    in stride units (zero for background), centre-ness. An image without objects is all
    background. ``boxes`` (M, 4) in input pixels, ``labels`` (M,) int.
    """
    boxes = tf.reshape(tf.cast(boxes, tf.float32), [-1, 4])
    labels = tf.reshape(tf.cast(labels, tf.int32), [-1])
    # A dummy box no point is ever inside keeps argmin well defined for images without objects.
    boxes = tf.concat([boxes, tf.constant([[-INF, -INF, -INF, -INF]], tf.float32)], axis=0)
    labels = tf.concat([labels, tf.constant([0], tf.int32)], axis=0)
    y, x = points[:, 0:1], points[:, 1:2]  # (N, 1)
    ymin, xmin, ymax, xmax = (boxes[tf.newaxis, :, i] for i in range(4))  # (1, M)
    ltrb = tf.stack([x - xmin, y - ymin, xmax - x, ymax - y], axis=-1)  # (N, M, 4)
    inside = tf.reduce_min(ltrb, axis=-1) > 0
    radius = center_radius * strides[:, tf.newaxis]
    near_centre = (tf.abs(x - (xmin + xmax) / 2) < radius) & (
        tf.abs(y - (ymin + ymax) / 2) < radius
    )
    largest = tf.reduce_max(ltrb, axis=-1)
    in_range = (largest >= ranges[:, 0:1]) & (largest < ranges[:, 1:2])
    candidate = inside & near_centre & in_range
    area = (ymax - ymin) * (xmax - xmin)  # (1, M)
    cost = tf.where(candidate, tf.broadcast_to(area, tf.shape(candidate)), INF * INF)
    best = tf.argmin(cost, axis=1, output_type=tf.int32)  # (N,)
    positive = tf.reduce_any(candidate, axis=1)
    best_boxes = tf.gather(boxes, best)
    distances = encode_distances(points, best_boxes, strides)
    distances = tf.where(positive[:, tf.newaxis], distances, 0.0)
    one_hot = (
        tf.one_hot(tf.gather(labels, best), num_classes) * tf.cast(positive, tf.float32)[:, None]
    )
    centre = tf.where(positive, centerness(distances), 0.0)[:, tf.newaxis]
    return tf.concat([one_hot, distances, centre], axis=-1)


def box_iou(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of (A, 4) and (B, 4) yxyx boxes -> (A, B) (NumPy; zero-area boxes give 0)."""
    a = np.asarray(boxes_a, np.float64).reshape(-1, 4)
    b = np.asarray(boxes_b, np.float64).reshape(-1, 4)
    top = np.maximum(a[:, None, 0], b[None, :, 0])
    left = np.maximum(a[:, None, 1], b[None, :, 1])
    bottom = np.minimum(a[:, None, 2], b[None, :, 2])
    right = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(bottom - top, 0, None) * np.clip(right - left, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def postprocess(
    outputs: tf.Tensor,
    points: tf.Tensor,
    strides: tf.Tensor,
    image_size: int,
    num_classes: int,
    max_detections: int = 100,
    iou_threshold: float = 0.6,
    score_threshold: float = 0.05,
) -> dict[str, tf.Tensor]:
    """Raw head outputs (B, N, C + 5) -> per-class NMS'd detections, TF Object Detection API style.

    Scores are ``sqrt(sigmoid(class) * sigmoid(centre-ness))``. Returns ``detection_boxes``
    (B, K, 4) normalised to the image and clipped to [0, 1], ``detection_scores`` (B, K),
    ``detection_classes`` (B, K) int32 0-based indices and ``num_detections`` (B,) int32; rows
    past ``num_detections`` are zero padding.
    """
    outputs = tf.cast(outputs, tf.float32)
    class_probs = tf.sigmoid(outputs[..., :num_classes])
    distances = outputs[..., num_classes : num_classes + 4]
    centre = tf.sigmoid(outputs[..., num_classes + 4 : num_classes + 5])
    scores = tf.sqrt(class_probs * centre)
    boxes = decode_distances(points, distances, strides) / float(image_size)
    nms = tf.image.combined_non_max_suppression(
        boxes[:, :, tf.newaxis, :],
        scores,
        max_output_size_per_class=max_detections,
        max_total_size=max_detections,
        iou_threshold=iou_threshold,
        score_threshold=score_threshold,
        clip_boxes=True,
    )
    return {
        "detection_boxes": nms.nmsed_boxes,
        "detection_scores": nms.nmsed_scores,
        "detection_classes": tf.cast(nms.nmsed_classes, tf.int32),
        "num_detections": tf.cast(nms.valid_detections, tf.int32),
    }
