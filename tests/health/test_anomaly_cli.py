"""``dlsuite health anomaly``: train / evaluate / predict (with a plot) / export, bad files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from health import cli
from health.anomaly.data import synthetic_series
from tests.cli_helpers import domain_runner

run = domain_runner(cli.register, dest="command")
SMALL = "--filters 8,8 --latent-dim 8 --batch-size 16"


def test_beats_train_evaluate_predict_export(tmp_path, capsys):
    model = tmp_path / "beats.keras"
    assert (
        run("health anomaly train --data builtin:beats --epochs 3", SMALL, "--output", model) == 0
    )
    assert "validation ROC-AUC" in capsys.readouterr().out
    assert run("health anomaly evaluate --model", model, "--data builtin:beats --part test") == 0
    report = json.loads(capsys.readouterr().out)
    assert {"roc_auc", "pr_auc", "f1", "threshold"} <= set(report)
    ucr = tmp_path / "beats.txt"
    rows = np.random.default_rng(0).normal(size=(3, 64))
    ucr.write_text("".join("1 " + " ".join(f"{v:.4f}" for v in row) + "\n" for row in rows))
    assert run("health anomaly predict --json --model", model, ucr) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["path"] == str(ucr) and len(result["score"]) == 3
    assert run("health anomaly export --model", model, "--output", tmp_path / "served") == 0
    assert (tmp_path / "served" / "1" / "saved_model.pb").is_file()


def test_series_predict_with_plot_and_bad_csv(tmp_path, capsys):
    model = tmp_path / "series.keras"
    assert (
        run(
            "health anomaly train --data builtin:series --epochs 2 --window 32",
            SMALL,
            "--output",
            model,
        )
        == 0
    )
    series = synthetic_series(300, 50, 1, seed=4)
    csv = tmp_path / "sensor.csv"
    csv.write_text(
        "timestamp,value\n"
        + "".join(
            f"2024-01-01 00:{i // 60:02d}:{i % 60:02d},{v}\n" for i, v in enumerate(series.values)
        )
    )
    capsys.readouterr()
    assert run("health anomaly predict --model", model, "--plot-dir", tmp_path / "plots", csv) == 0
    out = capsys.readouterr().out
    assert "sensor.csv: 300 points" in out
    png = tmp_path / "plots" / "sensor_anomaly.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,value\n2024-01-01 00:00:00,1.0\n2024-01-01 00:00:01,n/a\n")
    with pytest.raises(ValueError, match=r"bad.csv:3: value 'n/a' is not a number"):
        run("health anomaly predict --model", model, bad)
    short = tmp_path / "short.npy"
    np.save(short, np.zeros(10, np.float32))
    with pytest.raises(ValueError, match="shorter than the window of 32"):
        run("health anomaly predict --model", model, short)


def test_anomaly_pipeline_smoke(tmp_path):
    from health.anomaly.pipeline import anomaly

    summary = anomaly(
        quick=True, models_dir=tmp_path / "models", reports_dir=tmp_path / "reports", epochs=1
    )
    assert summary["export_agrees"] == 1.0 and 0.0 <= summary["roc_auc"] <= 1.0
    assert (tmp_path / "reports" / "health_anomaly" / "scores.png").stat().st_size > 0
    assert (tmp_path / "models" / "health_anomaly" / "1" / "saved_model.pb").is_file()
    assert len(summary["request"]["series"][0]) == 200
