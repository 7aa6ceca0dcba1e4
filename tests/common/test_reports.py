"""write_report: metrics JSON, per-class CSV and markdown, never silently overwritten."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from common.plots import ReportExistsError, existing_report, write_report

METRICS = {
    "accuracy": np.float32(0.75),
    "roc_auc": float("nan"),
    "num_examples": np.int64(8),
    "confusion_matrix": np.array([[3, 1], [1, 3]]),
    "per_class": {
        "cat": {"precision": 0.75, "recall": 0.75, "support": 4, "matrix": [[1]]},
        "dog|wolf": {"precision": 0.5, "recall": 1.0, "support": 4},
    },
}


def test_report_files_hold_the_metrics_and_one_row_per_class(tmp_path):
    paths = write_report(tmp_path / "report", METRICS)
    assert sorted(p.name for p in paths.values()) == ["metrics.json", "per_class.csv", "report.md"]
    saved = json.loads(paths["metrics"].read_text())
    assert saved["accuracy"] == pytest.approx(0.75) and saved["roc_auc"] is None
    assert saved["confusion_matrix"] == [[3, 1], [1, 3]] and saved["num_examples"] == 8
    rows = list(csv.DictReader(paths["per_class"].open()))
    assert [r["class"] for r in rows] == ["cat", "dog|wolf"]
    assert list(rows[0]) == ["class", "precision", "recall", "support"]  # nested values left out
    assert rows[1]["recall"] == "1.0" and rows[0]["support"] == "4"
    markdown = paths["markdown"].read_text()
    assert "| accuracy | 0.75 |" in markdown and "| roc_auc | n/a |" in markdown
    assert "| class | precision | recall | support |" in markdown
    assert "| dog\\|wolf | 0.5 | 1 | 4 |" in markdown


def test_an_existing_different_report_is_never_overwritten(tmp_path):
    assert existing_report(tmp_path) == []
    first = write_report(tmp_path, METRICS)
    assert existing_report(tmp_path) == sorted(first.values()) and not existing_report(
        tmp_path, "x"
    )
    before = {key: path.read_text() for key, path in first.items()}
    assert write_report(tmp_path, METRICS) == first  # the same report again: nothing changes
    changed = dict(METRICS, accuracy=0.5)
    with pytest.raises(ReportExistsError, match="different report.*metrics.json"):
        write_report(tmp_path, changed)
    assert {key: path.read_text() for key, path in first.items()} == before
    other = write_report(tmp_path, changed, prefix="val_")
    assert other["metrics"].name == "val_metrics.json"
    assert json.loads(other["metrics"].read_text())["accuracy"] == 0.5
    replaced = write_report(tmp_path, changed, overwrite=True)
    assert json.loads(replaced["metrics"].read_text())["accuracy"] == 0.5


def test_explicit_per_class_and_reports_without_classes(tmp_path):
    paths = write_report(tmp_path, {"mean_dice": 0.8}, per_class={"organ": {"dice": 0.8}})
    assert "organ" in paths["per_class"].read_text()
    plain = write_report(tmp_path / "plain", {"bleu": 21.5})
    assert set(plain) == {"metrics", "markdown"}
    with pytest.raises(ValueError, match="mapping"):
        write_report(tmp_path, [("accuracy", 1.0)])


def test_evaluation_report_writes_files_then_pictures_and_refuses_a_different_one(tmp_path):
    from common.reports import write_evaluation_report

    drawn: list[str] = []

    def picture(path):
        drawn.append(path.name)
        path.write_bytes(b"\x89PNG first")

    report = {"accuracy": 0.75, **{k: METRICS[k] for k in ("confusion_matrix", "per_class")}}
    folder = tmp_path / "report"
    returned = write_evaluation_report(
        folder, report, {"sample.png": picture}, confusion_classes=["cat", "dog|wolf"]
    )
    assert returned is report and report["confusion_matrix_png"] == str(
        folder / "confusion_matrix.png"
    )
    assert json.loads((folder / "metrics.json").read_text())["confusion_matrix_png"] == str(
        folder / "confusion_matrix.png"
    )
    assert (folder / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"
    assert drawn == ["sample.png"] and len((folder / "per_class.csv").read_text().split()) == 3
    write_evaluation_report(folder, dict(report), {"sample.png": picture})  # same report: fine
    assert drawn == ["sample.png", "sample.png"]
    with pytest.raises(ReportExistsError, match="metrics.json"):
        write_evaluation_report(folder, {**report, "accuracy": 0.5}, {"sample.png": picture})
    assert len(drawn) == 2  # refused before any picture was drawn
    write_evaluation_report(folder, {**report, "accuracy": 0.5}, overwrite=True)
    assert json.loads((folder / "metrics.json").read_text())["accuracy"] == 0.5
