"""health.pipelines end to end at smoke size: DICOM / NIfTI cases -> train -> evaluate -> explain
-> export, with the served outputs checked against predict inside the pipeline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from health import pipelines


def _run(tmp_path: Path, name: str, train_cases: int) -> tuple[dict[str, Any], Path]:
    """One pipeline at smoke size (one epoch): its summary and its reports folder."""
    summary = getattr(pipelines, name)(
        quick=True,
        models_dir=tmp_path / "models",
        reports_dir=tmp_path / "reports",
        epochs=1,
        train_cases=train_cases,
    )
    assert summary["export_agrees"] == 1.0
    assert (tmp_path / "models" / f"health_{name}").is_dir()
    reports = tmp_path / "reports" / f"health_{name}"
    assert (reports / "training_curves.png").exists()
    return summary, reports


@pytest.mark.slow
def test_segmentation_pipeline(tmp_path):
    summary, reports = _run(tmp_path, "segmentation", train_cases=8)
    assert (reports / "prediction.png").stat().st_size > 0
    assert 0.0 <= summary["mean_dice"] <= 1.0 and len(summary["request"]["image"][0]) == 64


@pytest.mark.slow
def test_classification_pipeline(tmp_path):
    summary, reports = _run(tmp_path, "classification", train_cases=32)
    assert (reports / "grad_cam.png").stat().st_size > 0
    assert any(p.suffix == ".png" and "reliab" in p.name for p in reports.iterdir())
    assert (reports / "roc.png").stat().st_size > 0
    assert json.loads((reports / "metrics.json").read_text())["roc_auc"] == summary["roc_auc"]
    assert 0.0 <= summary["roc_auc"] <= 1.0 and 0.0 <= summary["ece"] <= 1.0
