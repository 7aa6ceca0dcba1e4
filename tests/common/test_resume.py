"""Fault tolerance: kill -9 mid-epoch, kill during a checkpoint write, resume=True continues."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from common.checkpoint import list_checkpoints


def train(mode: str, work_dir: str | None) -> dict:
    """The training run under test; the child processes and the in-process baseline share it."""
    import keras

    from common.data import train_val_split
    from tests.common.digits_task import tiny_digit_classifier
    from vision import load_digits

    digits = load_digits()
    (x, y), (x_test, y_test) = train_val_split(digits.images, digits.labels, 0.3, seed=0)
    x, y = x[:512], y[:512]  # 16 steps per epoch at batch 32
    task = tiny_digit_classifier(batch_size=32)
    record: dict = {}

    class Recorder(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            record.setdefault("start_iterations", int(self.model.optimizer.iterations))

        def on_train_batch_end(self, batch, logs=None):
            record["batches"] = record.get("batches", 0) + 1
            if mode == "kill_mid_epoch" and int(self.model.optimizer.iterations) == 27:
                os.kill(os.getpid(), signal.SIGKILL)

    if mode == "kill_during_write":
        import common.checkpoint as ckpt

        real_rename, calls = os.rename, []

        def dying_rename(src, dst):
            calls.append(dst)
            if len(calls) == 2:  # the second checkpoint is half-written: die now
                os.kill(os.getpid(), signal.SIGKILL)
            real_rename(src, dst)

        ckpt.os.rename = dying_rename
    history = task.fit(
        (x, y),
        epochs=3,
        work_dir=work_dir,
        resume=mode == "resume",
        checkpoint_every=5,
        callbacks=[Recorder()],
        verbose=0,
    )
    record["epochs"] = history.epoch  # the whole run's, also after a resume
    record["losses"] = len(history.history["loss"])
    record["accuracy"] = task.evaluate((x_test, y_test))["accuracy"]
    record["iterations"] = int(task.model.optimizer.iterations)
    return record


def _run(tmp_path: Path, mode: str, work_dir: Path) -> tuple[int, dict]:
    out = tmp_path / f"{mode}.json"
    code = (
        "import json, sys; from tests.common.test_resume import train; "
        f"json.dump(train({mode!r}, {str(work_dir)!r}), open({str(out)!r}, 'w'))"
    )
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(Path.cwd()))
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env
    )
    if result.returncode not in (0, -signal.SIGKILL):
        pytest.fail(result.stderr[-3000:])
    return result.returncode, (json.loads(out.read_text()) if out.exists() else {})


def _killed_run(tmp_path, mode: str):
    """Run the training child in ``mode`` until it SIGKILLs itself; returns its work_dir."""
    work_dir = tmp_path / "run"
    code, _ = _run(tmp_path, mode, work_dir)
    assert code == -signal.SIGKILL
    return work_dir


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sigkill_mid_epoch_then_resume_continues_from_the_saved_step(tmp_path):
    work_dir = _killed_run(tmp_path, "kill_mid_epoch")
    saved = list_checkpoints(work_dir / "checkpoints")
    assert saved and saved[-1].name == "ckpt-25"  # saved every 5 steps; killed at 27

    from vision import ImageClassifier

    with pytest.raises(
        ValueError, match="interrupted training run"
    ):  # resume=False won't clobber it
        ImageClassifier(classes=["a", "b"], image_size=16).fit(
            (np.zeros((4, 8, 8)), [0, 1, 0, 1]), epochs=1, work_dir=work_dir
        )

    code, resumed = _run(tmp_path, "resume", work_dir)
    assert code == 0
    assert resumed["start_iterations"] == 25  # not from zero
    assert resumed["batches"] == 3 * 16 - 25  # exactly the steps that were missing
    assert resumed["iterations"] == 48
    assert resumed["epochs"] == [0, 1, 2] and resumed["losses"] == 3  # not only this call's
    assert not list_checkpoints(work_dir / "checkpoints")  # cleared after a finished run

    plain = train("plain", None)  # the uninterrupted baseline, in this process
    assert plain["iterations"] == 48
    assert abs(resumed["accuracy"] - plain["accuracy"]) <= 0.1


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_kill_during_checkpoint_write_resumes_from_the_previous_checkpoint(tmp_path):
    work_dir = _killed_run(tmp_path, "kill_during_write")
    folder = work_dir / "checkpoints"
    assert [p.name for p in list_checkpoints(folder)] == ["ckpt-5"]
    assert any(p.name.startswith(".tmp-") for p in folder.iterdir())  # the torn write is ignored
    code, resumed = _run(tmp_path, "resume", work_dir)
    assert code == 0 and resumed["start_iterations"] == 5 and resumed["iterations"] == 48
    assert resumed["epochs"] == [0, 1, 2]
    assert np.isfinite(resumed["accuracy"])
