"""health.pipelines end to end at smoke size: DICOM / NIfTI cases -> train -> evaluate -> explain
-> export, with the served outputs checked against predict inside the pipeline."""

from __future__ import annotations

from health import pipelines


def test_segmentation_pipeline(tmp_path):
    summary = pipelines.segmentation(
        quick=True,
        models_dir=tmp_path / "models",
        reports_dir=tmp_path / "reports",
        epochs=1,
        train_cases=8,
    )
    assert summary["export_agrees"] == 1.0
    assert (tmp_path / "models" / "health_segmentation").is_dir()
    reports = tmp_path / "reports" / "health_segmentation"
    assert (reports / "prediction.png").stat().st_size > 0 and (
        reports / "training_curves.png"
    ).exists()
    assert 0.0 <= summary["mean_dice"] <= 1.0 and len(summary["request"]["image"][0]) == 64


def test_classification_pipeline(tmp_path):
    summary = pipelines.classification(
        quick=True,
        models_dir=tmp_path / "models",
        reports_dir=tmp_path / "reports",
        epochs=1,
        train_cases=32,
    )
    assert summary["export_agrees"] == 1.0
    assert (tmp_path / "models" / "health_classification").is_dir()
    reports = tmp_path / "reports" / "health_classification"
    assert (reports / "grad_cam.png").stat().st_size > 0
    assert any(p.suffix == ".png" and "reliab" in p.name for p in reports.iterdir())
    assert 0.0 <= summary["roc_auc"] <= 1.0 and 0.0 <= summary["ece"] <= 1.0
