"""common.pipelines: timed training with curves, the demo loop, the ``python -m`` entry."""

from __future__ import annotations

import types

import pytest

from common.pipelines import agreement, pipelines_main, run_demo, timed_fit


class FakeTask:
    """Records ``fit`` calls and returns a History-like object."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def fit(self, data, **options):
        self.calls.append((data, options))
        return types.SimpleNamespace(history={"loss": [1.0, 0.5], "val_loss": [1.2, 0.7]})


def _pipeline(quick=False, models_dir="models", reports_dir="reports"):
    """Classify fake things.

    More words that the demo's training label leaves out.
    """
    return {"task": f"fake {quick}", "models": str(models_dir), "request": {"x": [1]}}


def test_timed_fit_trains_draws_the_curves_and_returns_seconds(tmp_path):
    task = FakeTask()
    seconds = timed_fit(task, tmp_path / "r", "data", epochs=2, verbose=0)
    assert task.calls == [("data", {"epochs": 2, "verbose": 0})]
    assert (tmp_path / "r" / "training_curves.png").read_bytes()[:4] == b"\x89PNG"
    assert seconds >= 0 and round(seconds, 1) == seconds


def test_run_demo_collects_rows_and_requests_by_model_name(capsys):
    result = run_demo({"one": _pipeline, "two": _pipeline}, "m", "r")
    labels = [line for line in capsys.readouterr().out.splitlines() if line]
    assert labels == ["--- one: Classify fake things ---", "--- two: Classify fake things ---"]
    assert result.rows == [{"task": "fake True", "models": "m"}] * 2
    assert result.requests == {"one": {"x": [1]}, "two": {"x": [1]}}


def test_pipelines_main_runs_the_named_pipeline_and_prints_its_summary(capsys):
    pipelines_main({"fake": _pipeline}, "doc", ["fake", "--quick", "--models-dir", "out"])
    assert capsys.readouterr().out.splitlines() == [
        f"{'task':>15}: fake True",
        f"{'models':>15}: out",
    ]
    with pytest.raises(SystemExit):
        pipelines_main({"fake": _pipeline}, "doc", ["other"])


def test_agreement_decodes_served_bytes_and_checks_lengths():
    assert agreement([b"caf\xc3\xa9", b"b"], ["café", "c"]) == 0.5
    assert agreement(["a"], ["a"]) == 1.0
    with pytest.raises(ValueError, match="2 served outputs for 1"):
        agreement(["a", "b"], ["a"])
