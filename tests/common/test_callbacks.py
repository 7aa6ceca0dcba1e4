"""Tests for common.callbacks: throughput logging, the LR schedule and the standard list."""

import math

import keras
import numpy as np
import pytest

from common import callbacks as cb
from common.callbacks import (
    SamplePredictions,
    ThroughputMeter,
    WarmupCosineSchedule,
    picture_batch,
    training_callbacks,
    warmup_cosine_decay,
)


def _tiny_model() -> keras.Model:
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    return model


def _data(n: int = 16):
    rng = np.random.default_rng(0)
    return rng.random((n, 3)).astype("float32"), rng.random((n, 1)).astype("float32")


# --- ThroughputMeter -----------------------------------------------------------------------


def test_throughput_meter_skips_first_batch_of_run(monkeypatch):
    # Clock readings: batch 0 takes 10 s (tracing), every later batch takes 0.5 s.
    ticks = iter([0.0, 10.0, 10.0, 10.5, 10.5, 11.0, 20.0, 20.5, 20.5, 21.0])
    monkeypatch.setattr(cb.time, "perf_counter", lambda: next(ticks))
    meter = ThroughputMeter(batch_size=8)
    meter.on_train_begin()
    epoch_logs = []
    for epoch, batches in enumerate((3, 2)):
        meter.on_epoch_begin(epoch)
        for batch in range(batches):
            meter.on_train_batch_begin(batch)
            meter.on_train_batch_end(batch)
        logs = {"loss": 1.0}
        meter.on_epoch_end(epoch, logs)
        epoch_logs.append(logs)
    assert meter.step_times == pytest.approx([10.0, 0.5, 0.5, 0.5, 0.5])
    for logs in epoch_logs:
        assert logs["step_time_ms"] == pytest.approx(500.0)
        assert logs["examples_per_sec"] == pytest.approx(16.0)


def test_throughput_meter_single_batch_epoch_keeps_it(monkeypatch):
    ticks = iter([0.0, 2.0])
    monkeypatch.setattr(cb.time, "perf_counter", lambda: next(ticks))
    meter = ThroughputMeter(batch_size=4)
    meter.on_train_begin()
    meter.on_epoch_begin(0)
    meter.on_train_batch_begin(0)
    meter.on_train_batch_end(0)
    logs = {}
    meter.on_epoch_end(0, logs)
    assert logs == {"step_time_ms": pytest.approx(2000.0), "examples_per_sec": pytest.approx(2.0)}


def test_throughput_meter_values_reach_history():
    x, y = _data(16)
    meter = ThroughputMeter(batch_size=4)
    history = _tiny_model().fit(x, y, batch_size=4, epochs=2, callbacks=[meter], verbose=0)
    assert len(meter.step_times) == 8
    assert len(history.history["examples_per_sec"]) == 2
    assert all(v > 0 for v in history.history["examples_per_sec"])
    assert all(v > 0 for v in history.history["step_time_ms"])
    with pytest.raises(ValueError):
        ThroughputMeter(0)


# --- WarmupCosineSchedule ------------------------------------------------------------------


def _lr(schedule, step) -> float:
    return float(keras.ops.convert_to_numpy(schedule(step)))


def test_warmup_cosine_values():
    schedule = WarmupCosineSchedule(1.0, total_steps=110, warmup_steps=10, min_learning_rate=0.1)
    assert _lr(schedule, 0) == pytest.approx(0.0)
    assert _lr(schedule, 5) == pytest.approx(0.5)
    assert _lr(schedule, 10) == pytest.approx(1.0)
    assert _lr(schedule, 35) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi / 4)))
    assert _lr(schedule, 60) == pytest.approx(0.55)  # halfway through decay
    assert _lr(schedule, 110) == pytest.approx(0.1)
    assert _lr(schedule, 500) == pytest.approx(0.1)


def test_cosine_without_warmup_starts_at_peak():
    schedule = WarmupCosineSchedule(0.01, total_steps=100)
    assert _lr(schedule, 0) == pytest.approx(0.01)
    assert _lr(schedule, 50) == pytest.approx(0.005)
    assert _lr(schedule, 100) == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError):
        WarmupCosineSchedule(0.01, total_steps=10, warmup_steps=20)


def test_schedule_round_trips_in_saved_model(tmp_path):
    schedule = WarmupCosineSchedule(0.05, total_steps=40, warmup_steps=4, min_learning_rate=0.001)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert isinstance(restored, WarmupCosineSchedule)
    assert restored.get_config() == schedule.get_config()

    model = _tiny_model()
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="mse")
    model.fit(*_data(8), batch_size=4, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    loaded_schedule = loaded.optimizer._learning_rate
    assert isinstance(loaded_schedule, WarmupCosineSchedule)
    assert loaded_schedule.get_config() == schedule.get_config()
    assert int(loaded.optimizer.iterations) == 2
    assert float(loaded.optimizer.learning_rate) == pytest.approx(_lr(schedule, 2))


def test_schedule_equals_the_custom_formula_it_replaced_at_every_step():
    peak, total, warmup, floor = 1.0, 110, 10, 0.1

    def replaced(step: int) -> float:  # the hand-written schedule before the switch
        progress = min(max((step - warmup) / (total - warmup), 0.0), 1.0)
        decayed = floor + (peak - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))
        return peak * step / warmup if step < warmup else decayed

    legacy = WarmupCosineSchedule(peak, total, warmup_steps=warmup, min_learning_rate=floor)
    builtin = warmup_cosine_decay(peak, total, warmup_steps=warmup, min_learning_rate=floor)
    assert isinstance(legacy, keras.optimizers.schedules.CosineDecay)
    for step in range(0, 131):
        assert _lr(legacy, step) == pytest.approx(replaced(step), abs=1e-6)
        assert _lr(builtin, step) == pytest.approx(replaced(step), abs=1e-6)
    edge = warmup_cosine_decay(0.5, 4, warmup_steps=4)  # no decay steps left: peak, then 0
    assert (_lr(edge, 2), _lr(edge, 4), _lr(edge, 5)) == pytest.approx((0.25, 0.5, 0.0))


# --- training_callbacks --------------------------------------------------------------------


def test_training_callbacks_composition(tmp_path):
    assert training_callbacks() == []
    extra = ThroughputMeter(2)
    callbacks = training_callbacks(
        tmp_path, monitor="val_acc", mode="max", patience=3, backup_every_steps=50, extra=[extra]
    )
    backup, early, last = callbacks
    assert isinstance(backup, keras.callbacks.BackupAndRestore)
    assert backup.backup_dir == str(tmp_path / "backup")
    assert backup.save_freq == 50 and backup.delete_checkpoint
    assert isinstance(early, keras.callbacks.EarlyStopping)
    assert (early.monitor, early.patience, early.restore_best_weights) == ("val_acc", 3, True)
    assert last is extra
    assert training_callbacks(tmp_path)[0].save_freq == "epoch"


class _FakeValidation(keras.callbacks.Callback):
    """Writes a fabricated ``val_score`` curve into the logs and records weights per epoch."""

    def __init__(self, curve):
        super().__init__()
        self.curve = curve
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        logs["val_score"] = self.curve[epoch]
        self.weights.append([w.copy() for w in self.model.get_weights()])


def test_early_stopping_restores_best_weights():
    fake = _FakeValidation([3.0, 1.0, 2.0, 4.0, 5.0, 6.0])
    model = _tiny_model()
    history = model.fit(
        *_data(),
        batch_size=4,
        epochs=6,
        verbose=0,
        callbacks=[fake, *training_callbacks(monitor="val_score", mode="min", patience=2)],
    )
    assert history.epoch == [0, 1, 2, 3]  # stops two epochs after the best (epoch 1)
    for restored, best in zip(model.get_weights(), fake.weights[1], strict=True):
        np.testing.assert_array_equal(restored, best)
    assert not np.allclose(model.get_weights()[0], fake.weights[-1][0])


class _Interrupt(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            raise RuntimeError("simulated preemption")


def test_backup_and_restore_resumes_after_interruption(tmp_path):
    x, y = _data()
    model = _tiny_model()
    with pytest.raises(RuntimeError, match="preemption"):
        model.fit(
            x,
            y,
            batch_size=4,
            epochs=3,
            verbose=0,
            callbacks=training_callbacks(tmp_path, extra=[_Interrupt()]),
        )
    assert (tmp_path / "backup").exists()
    weights_after_epoch_0 = model.get_weights()

    resumed = _tiny_model()  # fresh process: new model, same work_dir
    seen = []
    first_batch_weights = keras.callbacks.LambdaCallback(
        on_train_begin=lambda logs: seen.append(resumed.get_weights())
    )
    history = resumed.fit(
        x,
        y,
        batch_size=4,
        epochs=3,
        verbose=0,
        callbacks=training_callbacks(tmp_path, extra=[first_batch_weights]),
    )
    assert history.epoch == [1, 2]
    for restored, saved in zip(seen[0], weights_after_epoch_0, strict=True):
        np.testing.assert_allclose(restored, saved)
    assert not (tmp_path / "backup").exists() or not any((tmp_path / "backup").iterdir())


# --- TensorBoard ---------------------------------------------------------------------------


def _event_tags(folder) -> dict[str, set[str]]:
    """{plugin name: tags} over every event file under ``folder``."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags: dict[str, set[str]] = {}
    for events in folder.rglob("events.out.tfevents.*"):
        accumulator = EventAccumulator(str(events), size_guidance={"tensors": 0, "images": 0})
        accumulator.Reload()
        for event_tag in accumulator.Tags()["tensors"]:
            metadata = accumulator.SummaryMetadata(event_tag)
            tags.setdefault(metadata.plugin_data.plugin_name, set()).add(event_tag)
    return tags


def test_tensorboard_callback_logs_scalars_from_task_fit(tmp_path):
    from vision import ImageClassifier

    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (8, 16, 16, 3)).astype(np.uint8)
    labels = rng.integers(0, 2, 8)
    task = ImageClassifier(classes=["a", "b"], image_size=16, widths=[8], batch_size=4)
    task.fit(
        (images, labels),
        validation_data=(images, labels),
        epochs=1,
        callbacks=[keras.callbacks.TensorBoard(str(tmp_path))],
        verbose=0,
    )
    train, validation = _event_tags(tmp_path / "train"), _event_tags(tmp_path / "validation")
    assert "epoch_loss" in train["scalars"] and "epoch_loss" in validation["scalars"]


def test_sample_predictions_writes_images_every_n_epochs(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    x, y = _data(8)
    calls = []

    def render(model, inputs):
        calls.append(len(inputs))
        scores = keras.ops.convert_to_numpy(model(inputs))  # (4, 1)
        return np.broadcast_to(scores[:, :, None, None], (4, 5, 6, 3)).astype("float32")

    callback = SamplePredictions(tmp_path, x[:4], render, every=2, tag="samples")
    _tiny_model().fit(x, y, batch_size=4, epochs=4, callbacks=[callback], verbose=0)
    assert calls == [4, 4]  # epochs 2 and 4
    (events,) = (tmp_path / "images").glob("events.out.tfevents.*")
    accumulator = EventAccumulator(str(events), size_guidance={"tensors": 0})
    accumulator.Reload()
    assert accumulator.SummaryMetadata("samples").plugin_data.plugin_name == "images"
    logged = accumulator.Tensors("samples")
    assert [event.step for event in logged] == [1, 3]
    width, height, *pngs = logged[0].tensor_proto.string_val
    assert (width, height, len(pngs)) == (b"6", b"5", 4) and pngs[0].startswith(b"\x89PNG")


def test_sample_predictions_rejects_bad_pictures_and_arguments(tmp_path):
    x, y = _data(4)
    bad = SamplePredictions(tmp_path, x, lambda model, inputs: np.zeros((4, 5)))
    with pytest.raises(ValueError, match=r"\(N, H, W, 1\|3\|4\)"):
        _tiny_model().fit(x, y, epochs=1, callbacks=[bad], verbose=0)
    with pytest.raises(ValueError, match="every"):
        SamplePredictions(tmp_path, x, lambda model, inputs: inputs, every=0)


def test_picture_batch_pads_pictures_of_any_size_and_kind():
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (6, 4), (255, 0, 0)).save(buffer, format="PNG")
    grey = np.full((5, 3), 0.5, np.float32)  # (H, W) floats in [0, 1]
    batch = picture_batch([buffer.getvalue(), grey])
    assert batch.shape == (2, 5, 6, 3) and batch.dtype == np.uint8
    np.testing.assert_array_equal(batch[0, :4, :6], np.broadcast_to([255, 0, 0], (4, 6, 3)))
    assert (batch[0, 4] == 255).all()  # padding row below the 4-pixel-high picture
    assert (batch[1, :5, :3] == 128).all() and (batch[1, :, 3:] == 255).all()
    with pytest.raises(ValueError, match="no pictures"):
        picture_batch([])
