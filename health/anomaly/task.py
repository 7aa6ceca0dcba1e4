"""``health.SignalAnomalyDetector``: autoencoder anomaly detection on signals and time series.

Trained on normal data only (labelled anomalies in the training data are left out), it scores
an input by its reconstruction error. Two modes, by ``window``:

- ``window=0``: fixed-length samples (an ECG beat per row); one score per sample.
- ``window>0``: long series cut into windows every ``stride`` points; one score per point
  (the mean squared error of the windows covering it, ``health.anomaly.windows``).

The normaliser (mean / std of the training values) and the threshold (chosen on validation
data: best F1 where it has anomalies, else a percentile of its normal scores) are task state,
saved in the ``.keras`` file and baked into the export, whose ``serving_default`` takes float32
``series`` (``[batch, length]``, or ``[batch, n]`` streams) and returns ``score``,
``is_anomaly`` and ``reconstruction``: what ``predict`` returns (``health.anomaly.scoring``).
"""

from __future__ import annotations

import dataclasses
import numbers
import os
from collections.abc import Mapping
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from common.export import Endpoint
from common.task import Task, TaskConfig, TrainingHistory
from common.task_parts import config_optimizer
from health.anomaly import metrics
from health.anomaly.data import SignalSet, TimeSeries, as_float_array, load_signals, runs
from health.anomaly.model import ARCHITECTURES, build_autoencoder
from health.anomaly.scoring import Scorer
from health.anomaly.windows import check_long_enough, frames

THRESHOLD_METHODS = ("auto", "best_f1", "percentile")
POINT_SCORES = ("window", "point")
Data = SignalSet | list[TimeSeries]


@dataclasses.dataclass
class SignalAnomalyDetectorConfig(TaskConfig):
    """Options of ``SignalAnomalyDetector``.

    ``window`` 0 scores whole fixed-length samples; a positive ``window`` cuts long series into
    windows every ``stride`` points (0: a quarter window), and a point's score is the mean over
    the windows covering it of the window's mean error (``point_score="window"``, steadier) or
    of its own error there (``"point"``, sharper). ``latent_dim`` is the conv bottleneck (0:
    fully convolutional). ``threshold_method`` "auto" is
    "best_f1" when the validation data holds anomalies, else "percentile"
    (``threshold_percentile`` of the normal validation scores).
    """

    architecture: str = "conv"
    window: int = 0
    stride: int = 0
    filters: list[int] = dataclasses.field(default_factory=lambda: [32, 16])
    kernel_size: int = 7
    latent_dim: int = 16
    lstm_units: int = 64
    dropout: float = 0.1
    point_score: str = "window"
    normalize: bool = True
    threshold_method: str = "auto"
    threshold_percentile: float = 99.0
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    warmup_fraction: float = 0.0
    batch_size: int = 32
    seed: int = 0

    def validate(self) -> None:
        self.filters = [int(f) for f in self.filters]
        if self.architecture not in ARCHITECTURES:
            raise ValueError(
                f"architecture must be one of {ARCHITECTURES}, got {self.architecture!r}"
            )
        if self.window < 0 or self.window == 1 or self.stride < 0:
            raise ValueError("window must be 0 (whole samples) or at least 2; stride >= 0")
        if self.window and self.stride > self.window:
            raise ValueError(f"stride {self.stride} is longer than the window {self.window}")
        if not self.filters or min(self.filters) < 1 or self.kernel_size < 1:
            raise ValueError("filters needs positive widths and kernel_size must be positive")
        if self.lstm_units < 1 or self.latent_dim < 0 or not 0 <= self.dropout < 1:
            raise ValueError(
                "lstm_units must be positive, latent_dim >= 0 (0: none) and dropout in [0, 1)"
            )
        if self.point_score not in POINT_SCORES:
            raise ValueError(f"point_score must be one of {POINT_SCORES}, got {self.point_score!r}")
        if self.threshold_method not in THRESHOLD_METHODS:
            raise ValueError(
                f"threshold_method must be one of {THRESHOLD_METHODS}, "
                f"got {self.threshold_method!r}"
            )
        if not 0 < self.threshold_percentile <= 100:
            raise ValueError("threshold_percentile must be in (0, 100]")

    @property
    def window_stride(self) -> int:
        return self.stride or max(1, self.window // 4)


class SignalAnomalyDetector(Task):
    """Reconstruction-error anomaly detection following the task contract (docs/design.md)."""

    config_class = SignalAnomalyDetectorConfig
    config: SignalAnomalyDetectorConfig

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.length = self.config.window
        self.mean, self.std, self.threshold = 0.0, 1.0, float("inf")

    @property
    def streaming(self) -> bool:
        return self.config.window > 0

    # ------------------------------------------------------------------ model
    def build_model(self) -> keras.Model:
        c = self.config
        if not self.length:
            raise ValueError("the sample length is unknown: fit the detector on samples first")
        keras.utils.set_random_seed(c.seed)
        return build_autoencoder(
            self.length,
            c.architecture,
            c.filters,
            c.kernel_size,
            c.lstm_units,
            c.dropout,
            c.latent_dim,
        )

    def compile_model(self, model: keras.Model, total_steps: int) -> None:
        model.compile(optimizer=config_optimizer(self.config, total_steps), loss="mse")

    def get_state(self) -> dict[str, Any]:
        return {
            "length": self.length,
            "mean": self.mean,
            "std": self.std,
            "threshold": self.threshold,
        }

    def set_state(self, state: Mapping[str, Any]) -> None:
        self.length = int(state.get("length", self.config.window))
        self.mean, self.std = float(state.get("mean", 0.0)), float(state.get("std", 1.0))
        self.threshold = float(state.get("threshold", float("inf")))

    @property
    def scorer(self) -> Scorer:
        return Scorer(self.model, self.mean, self.std, self.threshold)

    # ------------------------------------------------------------------ data
    def to_data(self, data: Any) -> Data:
        """What the user has -> a ``SignalSet`` (samples) or a list of ``TimeSeries`` (streams).

        Accepted: those types, a file path (``health.anomaly.data.load_signals``), ``(samples,
        labels)``, a 2-D array of samples, a 1-D array (one series) or a list of series.
        """
        if isinstance(data, (str, os.PathLike)):
            data = load_signals(data)
        if isinstance(data, tuple) and len(data) == 2 and not self.streaming:
            data = SignalSet(as_float_array(data[0], "samples"), np.asarray(data[1], np.int64))
        if isinstance(data, np.ndarray) and data.ndim == 2 and not self.streaming:
            data = SignalSet(as_float_array(data, "samples"))
        if isinstance(data, np.ndarray) and data.ndim == 1:
            data = TimeSeries(as_float_array(data, "series"), labelled=False)
        if isinstance(data, TimeSeries):
            data = [data]
        if self.streaming:
            if isinstance(data, SignalSet):
                raise ValueError(
                    "this detector scores long series (window > 0), got fixed-length samples"
                )
            if not isinstance(data, list) or not data:
                raise ValueError(f"expected one or more series, got {type(data).__name__}")
            series = [
                s if isinstance(s, TimeSeries) else TimeSeries(as_float_array(s)) for s in data
            ]
            for s in series:
                as_float_array(s.values, f"series {s.name}")
                check_long_enough(len(s.values), self.config.window, f"series {s.name}")
            return series
        if not isinstance(data, SignalSet):
            raise ValueError(
                "this detector scores fixed-length samples (window=0): pass a SignalSet, "
                f"(samples, labels) or a 2-D array, got {type(data).__name__}"
            )
        self._check_samples(data.samples)
        return data

    def _check_samples(self, samples: np.ndarray) -> None:
        samples = as_float_array(samples, "samples")
        if samples.ndim != 2:
            raise ValueError(f"samples must be 2-D [count, length], got shape {samples.shape}")
        if self.length and samples.shape[1] != self.length:
            raise ValueError(
                f"samples have {samples.shape[1]} points; this detector expects {self.length}"
            )

    def normal_windows(self, data: Data) -> np.ndarray:
        """Raw training inputs ``[n, length]``: the normal samples, or the windows of the
        series that overlap no labelled anomaly."""
        if isinstance(data, SignalSet):
            keep = np.ones(len(data), bool) if data.labels is None else data.labels == 0
            if not keep.any():
                raise ValueError("the data holds no normal samples to train on")
            return data.samples[keep]
        window, stride = self.config.window, self.config.window_stride
        pieces = []
        for series in data:
            cut = frames(series.values, window, stride)
            labels = frames(series.point_labels, window, stride)
            pieces.append(cut[labels.max(axis=1) == 0])
        normal = np.concatenate(pieces)
        if not len(normal):
            raise ValueError("every window overlaps a labelled anomaly: no normal data to train on")
        return normal

    def make_dataset(self, data: Any, batch_size: int, training: bool) -> tf.data.Dataset:
        normal = (self.normal_windows(self.to_data(data)) - self.mean) / self.std
        x = normal.astype(np.float32)[..., None]
        dataset = tf.data.Dataset.from_tensor_slices((x, x))
        if training:
            dataset = dataset.shuffle(len(x), seed=self.config.seed, reshuffle_each_iteration=True)
        return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)

    # ------------------------------------------------------------------ training
    def fit(self, data: Any, *args: Any, **kwargs: Any) -> TrainingHistory:
        """``Task.fit`` (same arguments) after fitting the normaliser on the training data;
        the autoencoder trains on its normal part, then the threshold is chosen on
        ``validation_data`` (the training data when None)."""
        validation_data = args[0] if args else kwargs.pop("validation_data", None)
        train = self.to_data(data)
        raw = self.normal_windows(train)
        if not self.streaming and self.length != raw.shape[1]:
            self.length, self._model = int(raw.shape[1]), None
        if self.config.normalize:
            self.mean, self.std = float(raw.mean()), float(raw.std()) or 1.0
        val = None if validation_data is None else self.to_data(validation_data)
        history = super().fit(train, val, *args[1:], **kwargs)
        self.calibrate(val if val is not None else train)
        return history

    def calibrate(self, data: Any) -> float:
        """Choose and store the threshold on ``data`` (see ``threshold_method``)."""
        scores, labels = self.scores_and_labels(self.to_data(data))
        method = self.config.threshold_method
        has_both = labels is not None and 0 < labels.sum() < len(labels)
        if method == "auto":
            method = "best_f1" if has_both else "percentile"
        if method == "best_f1":
            if labels is None or not has_both:
                raise ValueError(
                    "threshold_method 'best_f1' needs data with both normal and anomalous labels"
                )
            self.threshold = metrics.best_f1_threshold(scores, labels)
        else:
            normal = scores if labels is None else scores[labels == 0]
            self.threshold = float(np.percentile(normal, self.config.threshold_percentile))
        return self.threshold

    # ------------------------------------------------------------------ scoring
    def scores_and_labels(self, data: Data) -> tuple[np.ndarray, np.ndarray | None]:
        """Scores of every sample (or every point of every series) and their labels."""
        if isinstance(data, SignalSet):
            return self._sample_scores(data.samples), data.labels
        scores = [self._stream(s.values)["score"] for s in data]
        labelled = all(s.labelled for s in data)
        labels = np.concatenate([s.point_labels for s in data]) if labelled else None
        return np.concatenate(scores), labels

    def _sample_scores(self, samples: np.ndarray, batch: int = 512) -> np.ndarray:
        return np.concatenate(
            [self._samples(samples[i : i + batch])["score"] for i in range(0, len(samples), batch)]
        )

    def _samples(self, samples: np.ndarray) -> dict[str, np.ndarray]:
        self._check_samples(samples)
        return {k: v.numpy() for k, v in self.scorer.samples(samples).items()}

    def _stream(self, values: np.ndarray) -> dict[str, np.ndarray]:
        values = as_float_array(values, "series")
        if values.ndim != 1:
            raise ValueError(f"a series is 1-D, got shape {values.shape}")
        check_long_enough(len(values), self.config.window)
        c = self.config
        out = self.scorer.stream(values[None], c.window, c.window_stride, c.point_score)
        return {k: v.numpy()[0] for k, v in out.items()}

    # ------------------------------------------------------------------ evaluate / predict
    def evaluate(self, data: Any, threshold: float | None = None, **_: Any) -> dict[str, Any]:
        """ROC-AUC, PR-AUC, F1 / precision / recall at the stored (or given) threshold; for
        series also NAB-style window detection, overall and per series."""
        data = self.to_data(data)
        threshold = self.threshold if threshold is None else float(threshold)
        scores, labels = self.scores_and_labels(data)
        if labels is None:
            raise ValueError("evaluate needs labelled data (anomaly labels or windows)")
        report = metrics.detection_report(scores, labels, threshold)
        if isinstance(data, list):
            report.update(metrics.series_report(data, scores, threshold))
        return report

    def is_single_input(self, inputs: Any) -> bool:
        """One input: a path, a ``TimeSeries``, a 1-D array or a plain list of numbers."""
        if isinstance(inputs, (str, os.PathLike, TimeSeries, SignalSet)):
            return True
        if isinstance(inputs, np.ndarray):
            return inputs.ndim == 1
        if isinstance(inputs, (list, tuple)):
            return bool(inputs) and all(
                isinstance(x, numbers.Number) and not isinstance(x, bool) for x in inputs
            )
        return True

    def predict_batch(self, items: list[Any], **_: Any) -> list[dict[str, Any]]:
        """Each input -> ``score``, ``is_anomaly``, ``reconstruction`` (per sample, or per point
        of a series, plus ``events``: flagged runs as inclusive index pairs). A file of
        samples gives one result holding arrays over its samples."""
        results: list[dict[str, Any]] = []
        for item in items:
            if isinstance(item, (str, os.PathLike)):
                item = load_signals(item)
            if isinstance(item, TimeSeries):
                item = item.values
            if isinstance(item, SignalSet):
                results.append(self._samples(item.samples))
                continue
            values = as_float_array(item, "input")
            if self.streaming:
                out = self._stream(values)
                results.append({**out, "events": runs(out["is_anomaly"])})
            else:
                if values.ndim != 1:
                    raise ValueError(f"a sample is 1-D, got shape {values.shape}")
                self._check_samples(values[None])
                out = self._samples(values[None])
                results.append(
                    {
                        "score": float(out["score"][0]),
                        "is_anomaly": bool(out["is_anomaly"][0]),
                        "reconstruction": out["reconstruction"][0],
                    }
                )
        return results

    # ------------------------------------------------------------------ export
    def serving_endpoints(self) -> dict[str, Endpoint]:
        """``serving_default``: float32 ``series`` ``[batch, length]`` (samples) or
        ``[batch, n]`` (streams, n >= window) -> ``score``, ``is_anomaly``, ``reconstruction``."""
        scorer, c = self.scorer, self.config
        window, stride, span = c.window, c.window_stride, c.point_score
        if self.streaming:
            spec = tf.TensorSpec([None, None], tf.float32, name="series")

            def serve(series: tf.Tensor) -> dict[str, tf.Tensor]:
                return scorer.stream(series, window, stride, span)

        else:
            spec = tf.TensorSpec([None, self.length], tf.float32, name="series")

            def serve(series: tf.Tensor) -> dict[str, tf.Tensor]:
                return scorer.samples(series)

        return {"serving_default": (serve, [spec])}

    def warmup_inputs(self) -> dict[str, Any]:
        length = 2 * self.length if self.streaming else self.length
        wave = self.mean + self.std * np.sin(np.linspace(0, 4 * np.pi, length))
        return {"series": wave[None].astype(np.float32)}
