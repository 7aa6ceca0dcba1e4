"""The Task base contract: options, strategies, work_dir rules, task files."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from common.task import Task, load_task, read_task_file
from vision import ImageClassifier


def _tiny(**options) -> ImageClassifier:
    return ImageClassifier(classes=["a", "b"], image_size=16, widths=[8], batch_size=8, **options)


def _data(count: int = 16):
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (count, 16, 16, 3)).astype(np.uint8), rng.integers(0, 2, count)


def test_fit_under_a_mirrored_strategy_builds_the_model_in_its_scope():
    task = _tiny()
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    history = task.fit(_data(), epochs=1, strategy=strategy, verbose=0)
    assert np.isfinite(history["loss"][0])
    assert type(task.model.trainable_variables[0].value).__name__ == "MirroredVariable"
    assert task.predict(np.zeros((16, 16, 3)))[0]["label"] in ("a", "b")


def test_fit_argument_errors_are_clear(tmp_path):
    task = _tiny()
    with pytest.raises(ValueError, match="unknown strategy 'tpu-pod'"):
        task.fit(_data(), epochs=1, strategy="tpu-pod")
    with pytest.raises(ValueError, match="resume=True needs the work_dir"):
        task.fit(_data(), epochs=1, resume=True)
    with pytest.raises(ValueError, match="epochs must be at least 1"):
        task.fit(_data(), epochs=0)
    with pytest.raises(ValueError, match="empty"):
        task.fit((np.zeros((0, 16, 16, 3)), np.zeros(0, int)), epochs=1)


def test_history_and_throughput_are_reported():
    task = _tiny()
    history = task.fit(_data(), validation_data=_data(8), epochs=2, patience=5, verbose=0)
    assert len(history["loss"]) == 2 and "val_accuracy" in history
    assert all(v > 0 for v in history["examples_per_sec"])
    assert task.history == history


def test_task_files_carry_their_class_and_options(tmp_path):
    task = _tiny(dropout=0.3)
    path = task.save(tmp_path / "t.keras")
    header = read_task_file(path)
    assert header["task"] == "vision.classification.ImageClassifier"
    assert header["config"]["dropout"] == 0.3
    restored = load_task(path)  # any task, resolved from the file
    assert isinstance(restored, ImageClassifier) and restored.config == task.config
    assert isinstance(Task.load(path), ImageClassifier)

    class OtherTask(Task):
        pass

    with pytest.raises(ValueError, match="holds a vision.classification.ImageClassifier"):
        OtherTask.load(path)
    with pytest.raises(ValueError, match=".keras extension"):
        task.save(tmp_path / "t.h5")
