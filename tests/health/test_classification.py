"""MedicalImageClassifier: learns lesions, clinical report, Grad-CAM, multi-label, export."""

from __future__ import annotations

import csv
import json
from functools import partial

import numpy as np
import pytest

import health
from common.export import non_core_ops
from health import io as hio
from health.classification import MedicalImageClassifier
from health.phantoms import make_phantoms
from tests.common.report_checks import check_different_report_refused, check_report_files
from tests.conftest import serve_in_fresh_tensorflow


@pytest.fixture(scope="module")
def trained():
    train = make_phantoms(160, (48, 48), seed=0)
    test = make_phantoms(60, (48, 48), seed=1)
    classifier = MedicalImageClassifier(
        classes=["normal", "lesion"], image_size=48, widths=[16, 32, 32], batch_size=32
    )
    classifier.fit(train, validation_data=test, epochs=8, verbose=0)
    return classifier, test


@pytest.mark.slow
def test_learns_lesions_and_reports_clinical_metrics(trained, tmp_path):
    classifier, test = trained
    report = classifier.evaluate(test, report_dir=tmp_path)
    assert report["roc_auc"] >= 0.85, report
    for key in ("pr_auc", "sensitivity", "specificity", "ece", "ppv", "npv"):
        assert key in report or key in report["per_class"]["lesion"]
    lesion = report["per_class"]["lesion"]
    assert sum(map(sum, lesion["confusion_matrix"])) == len(test)
    assert 0 <= report["ece"] <= 1
    assert (tmp_path / "reliability_lesion.png").read_bytes()[:4] == b"\x89PNG"
    check_report_files(tmp_path, report, ["roc.png", "reliability_lesion.png"])
    assert json.loads((tmp_path / "metrics.json").read_text())["roc_auc"] == report["roc_auc"]
    check_different_report_refused(tmp_path, partial(classifier.evaluate, test, threshold=0.95))
    strict = classifier.evaluate(test, threshold=0.95)["per_class"]["lesion"]
    assert (
        strict["specificity"] >= lesion["specificity"]
        and strict["sensitivity"] <= lesion["sensitivity"]
    )


def test_grad_cam_points_at_the_lesion(trained, tmp_path):
    classifier, test = trained
    hits = []
    for i in np.flatnonzero(test.labels)[:6]:
        result = health.explain(classifier, test.images[i], class_index="lesion")
        heat = result["heatmap"]
        assert heat.shape == (48, 48) and 0 <= heat.min() and heat.max() <= 1
        hits.append(heat[test.masks[i] == 2].mean() > heat[test.masks[i] == 0].mean())
    assert np.mean(hits) >= 0.5
    written = health.explain(classifier, test.images[0], path=tmp_path / "cam.png")
    assert written["path"].read_bytes()[:4] == b"\x89PNG" and written["class"] in classifier.classes


def test_predict_files_and_bad_inputs(trained, tmp_path):
    classifier, test = trained
    hio.write_dicom_series(
        hio.Volume(test.images[0], (0.8, 0.8)), tmp_path / "one", patient_name="Doe^Jane"
    )
    from_file = classifier.predict(next((tmp_path / "one").iterdir()))
    direct = classifier.predict(test.images[0])
    assert from_file["label"] == direct["label"]
    assert from_file["scores"]["lesion"] == pytest.approx(direct["scores"]["lesion"], abs=1e-5)
    assert "Doe" not in str(from_file)
    (listed,) = classifier.predict([test.images[0]])  # a list in, a list out
    assert listed == direct and isinstance(direct, dict)
    np.testing.assert_allclose(
        classifier.predict_proba(list(test.images[:2]))[:, 1],
        [r["scores"]["lesion"] for r in classifier.predict(list(test.images[:2]))],
        atol=1e-6,
    )
    with pytest.raises(ValueError, match="unknown label"):
        classifier.evaluate((test.images[:2], ["normal", "tumour"]))
    with pytest.raises(ValueError, match="as many labels as images"):
        classifier.evaluate((test.images[:3], [0, 1]))
    with pytest.raises(ValueError, match="NaN"):
        classifier.predict(np.full((48, 48), np.nan, np.float32))


def test_multi_label_from_csv_with_focal_loss(tmp_path):
    phantoms = make_phantoms(24, (32, 32), seed=4)
    rows = []
    for i, (image, mask) in enumerate(zip(phantoms.images, phantoms.masks, strict=True)):
        hio.write_nifti(hio.Volume(image, (0.8, 0.8)), tmp_path / f"img{i}.nii.gz")
        findings = ["organ"] + (["lesion"] if (mask == 2).any() else [])
        rows.append({"image": f"img{i}.nii.gz", "label": "|".join(findings)})
    with (tmp_path / "labels.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, ["image", "label"])
        writer.writeheader()
        writer.writerows(rows)
    classifier = MedicalImageClassifier(
        classes=["organ", "lesion"],
        multi_label=True,
        loss="focal",
        image_size=32,
        widths=[8, 16],
        batch_size=8,
    )
    classifier.fit(tmp_path / "labels.csv", epochs=1, verbose=0)
    report = classifier.evaluate(tmp_path / "labels.csv")
    assert set(report["per_class"]) == {"organ", "lesion"} and "macro_roc_auc" in report
    assert isinstance(classifier.predict(phantoms.images[0])["labels"], list)


@pytest.mark.slow
def test_save_load_and_export_parity_in_fresh_process(trained, tmp_path):
    classifier, test = trained
    loaded = MedicalImageClassifier.load(classifier.save(tmp_path / "clf.keras"))
    images = test.images[:4, :44, :50]  # any size: resized in the graph
    expected = np.array(
        [[r["scores"][c] for c in loaded.classes] for r in loaded.predict(list(images))]
    )
    version = loaded.export(tmp_path / "health_classify")
    assert non_core_ops(version) == []
    out = serve_in_fresh_tensorflow(version, {"image": images}, tmp_path)
    np.testing.assert_allclose(out["probabilities"], expected, atol=1e-5)
    assert out["classes"][0, 0].decode() in ("normal", "lesion")
    assert out["scores"].shape[0] == 4


def test_config_errors_name_the_option():
    for options, message in (
        ({"classes": ["only"]}, "at least two classes"),
        ({"classes": ["a", "a"]}, "must be unique"),
        ({"loss": "hinge"}, "loss must be one of cross_entropy, focal"),
        ({"class_weight": "inverse"}, "class_weight must be one of None, balanced"),
        ({"image_size": 4}, "image_size must be at least 8, got 4"),
        ({"threshold": 1.0}, r"threshold must be in \(0, 1\), got 1.0"),
    ):
        with pytest.raises(ValueError, match=message):
            MedicalImageClassifier(**options)
    assert MedicalImageClassifier(classes=["nodule"], multi_label=True).classes == ["nodule"]
