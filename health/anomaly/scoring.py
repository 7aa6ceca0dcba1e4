"""Reconstruction-error scores in TensorFlow core ops: the one implementation that both
``SignalAnomalyDetector.predict`` (eagerly) and the exported SavedModel (traced) run.

``Scorer`` holds what the score needs besides the model: the normaliser (``mean``, ``std``,
fitted on training data) and the stored ``threshold``. Samples: the mean squared error of
each normalised sample. Streams: every window's squared errors (per point, or with
``span="window"`` the window's mean error given to each of its points), averaged over the
windows covering each point (segment sums over the window index, so any length >= window).
NaN / infinite samples and streams shorter than the window fail the graph's checks.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class Scorer:
    model: Any
    mean: float
    std: float
    threshold: float

    def _check(self, series: tf.Tensor) -> tf.Tensor:
        series = tf.convert_to_tensor(series, tf.float32)
        tf.debugging.assert_all_finite(series, "series holds NaN or infinite samples")
        return series

    def _reconstruct(self, batch: tf.Tensor) -> tf.Tensor:
        """Raw ``[b, length]`` -> normalised input and its reconstruction, both ``[b, length]``."""
        x = (batch - self.mean) / self.std
        return x, self.model(x[..., None], training=False)[..., 0]

    def samples(self, series: tf.Tensor) -> dict[str, tf.Tensor]:
        """``[batch, length]`` -> ``score [batch]``, ``is_anomaly [batch]``,
        ``reconstruction [batch, length]`` (in the input's units)."""
        series = self._check(series)
        x, recon = self._reconstruct(series)
        score = tf.reduce_mean(tf.square(recon - x), axis=-1)
        return {
            "score": score,
            "is_anomaly": score > self.threshold,
            "reconstruction": recon * self.std + self.mean,
        }

    def stream(
        self, series: tf.Tensor, window: int, stride: int, span: str = "window"
    ) -> dict[str, tf.Tensor]:
        """``[batch, n]`` (rows of one length n >= window) -> per-point ``score``,
        ``is_anomaly`` and ``reconstruction``, each ``[batch, n]``."""
        series = self._check(series)
        length = tf.shape(series)[1]
        with tf.control_dependencies(
            [
                tf.debugging.assert_greater_equal(
                    length, window, message=f"series is shorter than the window of {window}"
                )
            ]
        ):
            starts = tf.range(0, length - window + 1, stride)
        last = length - window
        starts = tf.cond(starts[-1] < last, lambda: tf.concat([starts, [last]], 0), lambda: starts)
        index = starts[:, None] + tf.range(window)[None, :]  # [windows, window]
        frames = tf.gather(series, index, axis=1)  # [batch, windows, window]
        batch, count = tf.shape(frames)[0], tf.shape(frames)[1]
        x, recon = self._reconstruct(tf.reshape(frames, [-1, window]))
        error = tf.square(recon - x)  # [batch * windows, window]
        if span == "window":
            error = tf.broadcast_to(tf.reduce_mean(error, -1, keepdims=True), tf.shape(error))
        error = tf.reshape(error, [batch, count * window])
        recon = tf.reshape(recon * self.std + self.mean, [batch, count * window])
        segments = tf.reshape(index, [-1])

        def to_points(values: tf.Tensor) -> tf.Tensor:
            total = tf.math.unsorted_segment_sum(tf.transpose(values), segments, length)
            return tf.transpose(total)

        cover = tf.math.unsorted_segment_sum(tf.ones_like(segments, tf.float32), segments, length)
        score = to_points(error) / cover
        return {
            "score": score,
            "is_anomaly": score > self.threshold,
            "reconstruction": to_points(recon) / cover,
        }
