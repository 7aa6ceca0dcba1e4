"""Training-loop helpers: a throughput meter, a warmup + cosine learning-rate schedule and the
standard callback list (backup/resume, early stopping) every task's ``fit`` uses.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable

import keras
from keras import ops


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


@keras.saving.register_keras_serializable(package="dlsuite")
class WarmupCosineSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup from 0 to ``peak_learning_rate``, then cosine decay to the minimum.

    Warmup stabilises early adaptive-optimizer steps; cosine decay is the usual well-behaved
    default. The rate stays at ``min_learning_rate`` after ``total_steps``.
    """

    def __init__(
        self,
        peak_learning_rate: float,
        total_steps: int,
        warmup_steps: int = 0,
        min_learning_rate: float = 0.0,
    ):
        super().__init__()
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
        self.peak_learning_rate = float(peak_learning_rate)
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.min_learning_rate = float(min_learning_rate)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        peak = self.peak_learning_rate
        decay_steps = float(max(1, self.total_steps - self.warmup_steps))
        progress = ops.clip((step - self.warmup_steps) / decay_steps, 0.0, 1.0)
        cosine = 0.5 * (1.0 + ops.cos(math.pi * progress))
        decayed = self.min_learning_rate + (peak - self.min_learning_rate) * cosine
        if self.warmup_steps == 0:
            return decayed
        warmup = peak * step / float(self.warmup_steps)
        return ops.where(step < self.warmup_steps, warmup, decayed)

    def get_config(self) -> dict:
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "min_learning_rate": self.min_learning_rate,
        }


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
