"""Training-loop helpers: a throughput meter, Keras' warmup + cosine learning-rate schedule,
sample-prediction pictures for TensorBoard and the standard callback list (backup/resume, early
stopping) every task's ``fit`` uses.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from typing import Any

import keras


class ThroughputMeter(keras.callbacks.Callback):
    """Time each training batch and log ``examples_per_sec`` and ``step_time_ms`` per epoch.

    The run's first batch (graph tracing) is left out of the average when the epoch has more
    than one batch; every measured time stays in ``step_times`` (seconds). Throughput assumes
    full batches of ``batch_size``.
    """

    def __init__(self, batch_size: int):
        super().__init__()
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size!r}.")
        self.batch_size = int(batch_size)
        self.step_times: list[float] = []
        self._epoch_times: list[float] = []
        self._epoch_has_first_batch = False
        self._batch_start = 0.0

    def on_train_begin(self, logs=None):
        self.step_times = []

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_times = []
        self._epoch_has_first_batch = not self.step_times

    def on_train_batch_begin(self, batch, logs=None):
        self._batch_start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        elapsed = time.perf_counter() - self._batch_start
        self.step_times.append(elapsed)
        self._epoch_times.append(elapsed)

    def on_epoch_end(self, epoch, logs=None):
        times = self._epoch_times
        if self._epoch_has_first_batch and len(times) > 1:
            times = times[1:]
        if not times or logs is None:
            return
        mean_step = sum(times) / len(times)
        logs["step_time_ms"] = 1000.0 * mean_step
        logs["examples_per_sec"] = self.batch_size / mean_step if mean_step > 0 else 0.0


def _check_schedule(
    peak_learning_rate: float, total_steps: int, warmup_steps: int, min_learning_rate: float
) -> None:
    if peak_learning_rate <= 0:
        raise ValueError(f"peak_learning_rate must be > 0, got {peak_learning_rate!r}.")
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps!r}.")
    if not 0 <= warmup_steps <= total_steps:
        raise ValueError(
            f"warmup_steps must be in [0, total_steps={total_steps}], got {warmup_steps!r}."
        )
    if not 0 <= min_learning_rate <= peak_learning_rate:
        raise ValueError(
            f"min_learning_rate must be in [0, peak_learning_rate], got {min_learning_rate!r}."
        )


def _cosine_decay_arguments(
    peak_learning_rate: float, total_steps: int, warmup_steps: int, min_learning_rate: float
) -> dict[str, Any]:
    """Keras ``CosineDecay`` arguments for warmup 0 -> peak, then cosine decay to the minimum."""
    _check_schedule(peak_learning_rate, total_steps, warmup_steps, min_learning_rate)
    peak, warmup = float(peak_learning_rate), int(warmup_steps)
    arguments: dict[str, Any] = {
        "decay_steps": max(1, int(total_steps) - warmup),
        "alpha": float(min_learning_rate) / peak,
    }
    if warmup == 0:
        return arguments | {"initial_learning_rate": peak}
    return arguments | {"initial_learning_rate": 0.0, "warmup_target": peak, "warmup_steps": warmup}


def warmup_cosine_decay(
    peak_learning_rate: float,
    total_steps: int,
    warmup_steps: int = 0,
    min_learning_rate: float = 0.0,
) -> keras.optimizers.schedules.CosineDecay:
    """Keras' ``CosineDecay``: linear warmup from 0 to the peak, then cosine decay to the min.

    The rate stays at ``min_learning_rate`` after ``total_steps``; a built-in, so `.keras` files
    holding it load anywhere.
    """
    return keras.optimizers.schedules.CosineDecay(
        **_cosine_decay_arguments(peak_learning_rate, total_steps, warmup_steps, min_learning_rate)
    )


@keras.saving.register_keras_serializable(package="dlsuite")
class WarmupCosineSchedule(keras.optimizers.schedules.CosineDecay):
    """Keras' ``CosineDecay`` with warmup, under the name older dlsuite `.keras` files use.

    Same rates as the custom schedule it replaces at every step (max difference 0.0 over
    steps 0..130 for peak 1, 110 steps, 10 warmup, min 0.1); new code uses
    ``warmup_cosine_decay``.
    """

    def __init__(
        self,
        peak_learning_rate: float,
        total_steps: int,
        warmup_steps: int = 0,
        min_learning_rate: float = 0.0,
    ):
        super().__init__(
            **_cosine_decay_arguments(
                peak_learning_rate, total_steps, warmup_steps, min_learning_rate
            )
        )
        self.peak_learning_rate = float(peak_learning_rate)
        self.total_steps = int(total_steps)
        self.min_learning_rate = float(min_learning_rate)

    def get_config(self) -> dict:
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "min_learning_rate": self.min_learning_rate,
        }


def _picture(item: Any) -> Any:
    """One (H, W, C) uint8 picture from an array (uint8, or floats in [0, 1]) or image bytes."""
    import numpy as np

    if isinstance(item, (bytes, bytearray)):
        import io

        from PIL import Image

        with Image.open(io.BytesIO(item)) as image:
            item = np.asarray(image.convert("RGBA" if "A" in image.mode else "RGB"))
    array = np.asarray(item)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[-1] not in (1, 3, 4):
        raise ValueError(
            f"render_fn must return images (N, H, W, 1|3|4), got an image of shape {array.shape}"
        )
    if array.dtype != np.uint8:
        array = (np.clip(array.astype(np.float32), 0.0, 1.0) * 255).round().astype(np.uint8)
    return array


def picture_batch(pictures: Any) -> Any:
    """(N, H, W, C) uint8 from a batch array or a list of arrays / image bytes of any sizes;
    smaller ones are padded with white at the bottom and right, channels made equal."""
    import numpy as np

    if isinstance(pictures, np.ndarray) and pictures.ndim != 4:
        raise ValueError(
            f"render_fn must return images (N, H, W, 1|3|4), got shape {pictures.shape}"
        )
    items = [_picture(item) for item in pictures]
    if not items:
        raise ValueError("render_fn returned no pictures")
    channels = max(item.shape[-1] for item in items)
    height = max(item.shape[0] for item in items)
    width = max(item.shape[1] for item in items)
    batch = np.full((len(items), height, width, channels), 255, np.uint8)
    for out, item in zip(batch, items, strict=True):
        if item.shape[-1] == 1 and channels > 1:
            item = np.repeat(item, 3, axis=-1)
        if item.shape[-1] == 3 and channels == 4:
            item = np.concatenate([item, np.full(item.shape[:2] + (1,), 255, np.uint8)], -1)
        out[: item.shape[0], : item.shape[1]] = item
    return batch


class SamplePredictions(keras.callbacks.Callback):
    """Log pictures of the model's predictions on a few fixed inputs to TensorBoard.

    Every ``every`` epochs ``render_fn(model, inputs)`` returns pictures: an array
    (N, H, W, 1|3|4) of uint8 or floats in [0, 1], or a list of such (H, W, C) images or PNG /
    JPEG bytes of any sizes (e.g. from ``vision.draw``), padded to one size. They are written
    with ``tf.summary.image`` under ``tag`` to ``log_dir/images``, next to Keras' ``TensorBoard``
    callback's ``train`` / ``validation`` folders.
    """

    def __init__(
        self,
        log_dir: str | os.PathLike,
        inputs: Any,
        render_fn: Callable[[keras.Model, Any], Any],
        every: int = 1,
        tag: str = "sample_predictions",
        max_outputs: int = 8,
    ):
        super().__init__()
        import tensorflow as tf

        if not hasattr(tf.summary, "image"):
            raise ImportError(
                "SamplePredictions needs the tensorboard package: pip install tensorboard"
            )
        if int(every) < 1:
            raise ValueError(f"every must be >= 1, got {every!r}.")
        if int(max_outputs) < 1:
            raise ValueError(f"max_outputs must be >= 1, got {max_outputs!r}.")
        self.log_dir = os.path.join(os.fspath(log_dir), "images")
        self.inputs = inputs
        self.render_fn = render_fn
        self.every = int(every)
        self.tag = tag
        self.max_outputs = int(max_outputs)
        self._writer = None

    def on_train_begin(self, logs=None):
        import tensorflow as tf

        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every or self._writer is None:
            return
        import tensorflow as tf

        pictures = picture_batch(self.render_fn(self.model, self.inputs))
        with self._writer.as_default(step=epoch):
            tf.summary.image(self.tag, pictures, max_outputs=self.max_outputs)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def training_callbacks(
    work_dir: str | os.PathLike | None = None,
    monitor: str = "val_loss",
    mode: str = "auto",
    patience: int | None = None,
    backup_every_steps: int | None = None,
    extra: Iterable[keras.callbacks.Callback] = (),
) -> list[keras.callbacks.Callback]:
    """Standard callbacks: resumable backups under ``work_dir/backup``, early stopping, extras.

    Backups are taken every epoch (or every ``backup_every_steps`` batches) and deleted when
    training finishes; early stopping restores the best weights it saw.
    """
    callbacks: list[keras.callbacks.Callback] = []
    if work_dir is not None:
        callbacks.append(
            keras.callbacks.BackupAndRestore(
                backup_dir=os.path.join(os.fspath(work_dir), "backup"),
                save_freq=int(backup_every_steps) if backup_every_steps else "epoch",
                delete_checkpoint=True,
            )
        )
    if patience is not None:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor=monitor, mode=mode, patience=int(patience), restore_best_weights=True
            )
        )
    callbacks.extend(extra)
    return callbacks
