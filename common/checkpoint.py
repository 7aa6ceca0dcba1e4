"""Resumable training checkpoints that are written whole or not at all.

Keras' ``BackupAndRestore`` overwrites its files in place and restarts an interrupted epoch from
its first batch. ``TrainingCheckpoint`` writes each checkpoint (weights + optimizer state +
position + task state) into a hidden staging folder and renames it into place, so a process
killed mid-write leaves the previous checkpoint usable; it also records the step inside the
epoch so ``Task.fit(resume=True)`` continues from the exact step that was saved, and the
per-epoch logs so far, so the resumed ``fit`` returns the whole run's history.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import keras

from common.atomic import staged

WEIGHTS_FILE = "model.weights.h5"
STATE_FILE = "state.json"
PREFIX = "ckpt-"


def _fsync_tree(folder: Path) -> None:
    for path in folder.iterdir():
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())


def list_checkpoints(directory: str | os.PathLike) -> list[Path]:
    """Complete checkpoints in ``directory``, oldest first (staging folders are ignored)."""
    root = Path(directory)
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and p.name.startswith(PREFIX)]
    return sorted(found, key=lambda p: int(p.name.removeprefix(PREFIX)))


def read_state(checkpoint: Path) -> dict[str, Any]:
    return json.loads((checkpoint / STATE_FILE).read_text())


class TrainingCheckpoint(keras.callbacks.Callback):
    """Save weights, optimizer and training position every ``every_steps`` steps and each epoch."""

    def __init__(
        self,
        directory: str | os.PathLike,
        steps_per_epoch: int,
        every_steps: int | None = None,
        keep: int = 2,
        task_state: dict[str, Any] | None = None,
        write: bool = True,
    ) -> None:
        super().__init__()
        if every_steps is not None and every_steps < 1:
            raise ValueError(f"every_steps must be at least 1, got {every_steps}")
        self.directory = Path(directory)
        self.steps_per_epoch = steps_per_epoch
        self.every_steps = every_steps
        self.keep = max(1, keep)
        self.task_state = task_state or {}
        self.write = write  # False on non-chief workers of a multi-worker run
        self.epoch = 0
        self.step_in_epoch = 0
        self.global_step = 0
        self._batch_offset = 0
        #: Per-epoch logs of the whole run so far (restored on resume), as ``History.history``.
        self.history: dict[str, list[float]] = {}
        #: The epoch indices those logs belong to, as ``History.epoch``.
        self.epochs_done: list[int] = []

    # -------------------------------------------------------------- position bookkeeping
    def start_at(self, epoch: int, step_in_epoch: int, global_step: int) -> None:
        """Continue counting from a restored position (the next fit skips ``step_in_epoch``)."""
        self.epoch, self.step_in_epoch, self.global_step = epoch, step_in_epoch, global_step
        self._batch_offset = step_in_epoch

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.step_in_epoch = self._batch_offset + batch + 1
        self.global_step += 1
        if self.every_steps and self.global_step % self.every_steps == 0:
            self.save()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        self.epochs_done.append(epoch)
        self.epoch, self.step_in_epoch, self._batch_offset = epoch + 1, 0, 0
        self.save()

    # -------------------------------------------------------------- writing and reading
    def save(self) -> Path | None:
        """Write one checkpoint atomically (staging folder + rename); prune old ones."""
        if not self.write:
            return None
        final = self.directory / f"{PREFIX}{self.global_step}"
        state = {
            "epoch": self.epoch,
            "step_in_epoch": self.step_in_epoch,
            "global_step": self.global_step,
            "steps_per_epoch": self.steps_per_epoch,
            "task": self.task_state,
            "history": self.history,
            "epochs_done": self.epochs_done,
        }
        if final.exists():  # the epoch ended right on a step checkpoint: same weights
            with staged(final / STATE_FILE) as staging:  # but now with this epoch's logs
                staging.write_text(json.dumps(state))
            return final
        with staged(final, replace=False, make_dir=True) as staging:
            self.model.save_weights(staging / WEIGHTS_FILE)
            (staging / STATE_FILE).write_text(json.dumps(state))
            _fsync_tree(staging)
        for old in list_checkpoints(self.directory)[: -self.keep]:
            shutil.rmtree(old, ignore_errors=True)
        return final

    def restore(self, model: keras.Model) -> dict[str, Any] | None:
        """Load the newest complete checkpoint into ``model`` (and its optimizer); None if none."""
        checkpoints = list_checkpoints(self.directory)
        if not checkpoints:
            return None
        latest = checkpoints[-1]
        state = read_state(latest)
        if state.get("task") != self.task_state:
            raise ValueError(
                f"the checkpoint in {self.directory} was written by a task with different "
                "options; resume with the same options or use a new work_dir"
            )
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        model.load_weights(latest / WEIGHTS_FILE)
        epoch, step = state["epoch"], state["step_in_epoch"]
        if step >= self.steps_per_epoch:  # saved on the last batch of an epoch
            epoch, step = epoch + 1, 0
        self.start_at(epoch, step, state["global_step"])
        history = state.get("history", {})
        self.history = {key: [float(v) for v in values] for key, values in history.items()}
        self.epochs_done = [int(e) for e in state.get("epochs_done", [])]
        return {"epoch": epoch, "step_in_epoch": step, "global_step": state["global_step"]}

    def clear(self) -> None:
        """Remove every checkpoint once training has finished."""
        if self.write:
            shutil.rmtree(self.directory, ignore_errors=True)
