"""The Task base contract: options, strategies, work_dir rules, task files."""

from __future__ import annotations

import json
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from common.task import TASK_FILE, Task, load_task, read_task_file
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
    assert np.isfinite(history.history["loss"][0])
    assert type(task.model.trainable_variables[0].value).__name__ == "MirroredVariable"
    assert task.predict(np.zeros((16, 16, 3)))["label"] in ("a", "b")


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
    assert isinstance(history, keras.callbacks.History)  # what keras.Model.fit returns
    assert len(history.history["loss"]) == 2 and "val_accuracy" in history.history
    assert history.epoch == [0, 1] and history.params["epochs"] == 2
    assert all(v > 0 for v in history.history["examples_per_sec"])
    assert task.history == history.history and isinstance(task.history, dict)
    assert history["loss"] == history.history["loss"]  # the old dict-style reads still work


class _Interrupt(keras.callbacks.Callback):
    """Stops training with an error once ``epoch`` has ended (after its checkpoint is saved)."""

    def __init__(self, epoch: int) -> None:
        super().__init__()
        self.stop_after = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.stop_after:
            raise KeyboardInterrupt("power cut")


def test_resumed_fit_returns_the_whole_runs_history(tmp_path):
    task = _tiny()
    with pytest.raises(KeyboardInterrupt):
        task.fit(_data(), epochs=3, work_dir=tmp_path, callbacks=[_Interrupt(1)], verbose=0)
    resumed = _tiny()  # a new process would start from a fresh task
    history = resumed.fit(_data(), epochs=3, work_dir=tmp_path, resume=True, verbose=0)
    assert history.epoch == [0, 1, 2]
    assert len(history.history["loss"]) == 3 == len(history.history["examples_per_sec"])
    assert resumed.history == history.history


@pytest.mark.slow
def test_resume_mid_epoch_keeps_the_history_of_finished_epochs(tmp_path):
    task = _tiny()
    with pytest.raises(KeyboardInterrupt):  # batch 8 of 16 per epoch, in epoch 1
        task.fit(
            _data(64),
            epochs=2,
            batch_size=4,
            work_dir=tmp_path,
            checkpoint_every=4,
            callbacks=[keras.callbacks.LambdaCallback(on_train_batch_end=_stop_at_step(24))],
            verbose=0,
        )
    history = _tiny().fit(
        _data(64), epochs=2, batch_size=4, work_dir=tmp_path, resume=True, verbose=0
    )
    assert history.epoch == [0, 1] and len(history.history["loss"]) == 2


def _stop_at_step(step: int):
    calls = []

    def stop(batch, logs=None):
        calls.append(batch)
        if len(calls) == step:
            raise KeyboardInterrupt("power cut")

    return stop


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


class Loadable:
    """A stand-in for a non-Task class (like autonomy.DQNAgent) that writes task files."""

    dlsuite_task_file = True

    def __init__(self, config: dict) -> None:
        self.config = config

    @classmethod
    def load(cls, path) -> Loadable:
        return cls(read_task_file(path)["config"])


class NotLoadable:
    """Lives in a dlsuite package but never declared that it writes task files."""

    @classmethod
    def load(cls, path) -> None:
        raise AssertionError("load_task must not call this")


def _task_file(path, qualified: str) -> str:
    with zipfile.ZipFile(path, "w") as archive:
        header = {"task": qualified, "config": {"n": 3}, "state": {}, "format": 1}
        archive.writestr(TASK_FILE, json.dumps(header))
    return path


def test_load_task_dispatches_to_loadable_non_task_classes(tmp_path, monkeypatch):
    import common.task as task_module

    module = __name__  # tests.common.test_task, let in as a dlsuite package for this test only
    path = _task_file(tmp_path / "agent.keras", f"{module}.Loadable")
    with monkeypatch.context() as patch:
        patch.setattr(task_module, "TASK_PACKAGES", (*task_module.TASK_PACKAGES, "tests"))
        loaded = load_task(path)
        assert type(loaded).__name__ == "Loadable" and loaded.config == {"n": 3}
        assert type(Task.load(path)).__name__ == "Loadable"  # the base class dispatches too
        with pytest.raises(ValueError, match="is not a dlsuite task class"):
            load_task(_task_file(tmp_path / "x.keras", f"{module}.NotLoadable"))
    with pytest.raises(ValueError, match="outside dlsuite packages"):
        load_task(path)  # "tests" is not a dlsuite package
    with pytest.raises(ValueError, match="outside dlsuite packages"):
        load_task(_task_file(tmp_path / "os.keras", "os.system"))


def test_predict_contract_one_input_one_result_a_list_a_list():
    task = _tiny()
    image = np.zeros((16, 16, 3), np.uint8)
    one = task.predict(image)
    assert isinstance(one, dict) and one["label"] in ("a", "b")
    many = task.predict([image, image])
    assert isinstance(many, list) and len(many) == 2 and many[0] == one
    batch = task.predict(np.stack([image] * 3))  # an (N, H, W, C) array is N images
    assert isinstance(batch, list) and len(batch) == 3
    assert task.predict((image,)) == [one]
    with pytest.raises(ValueError, match="at least one input"):
        task.predict([])


def test_export_options_reach_serving_endpoints_or_are_refused(tmp_path):
    task = _tiny()
    with pytest.raises(ValueError, match="unknown export option"):
        task.export(tmp_path / "m", beam_size=3)
    assert not (tmp_path / "m").exists() or not any((tmp_path / "m").iterdir())
