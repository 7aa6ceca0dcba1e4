"""health.metrics and sliding-window inference against hand computations."""

from __future__ import annotations

import numpy as np
import pytest

from health.metrics import (
    binary_report,
    calibration,
    dice,
    hausdorff95,
    iou,
    plot_reliability,
    plot_roc,
    roc_curves,
    segmentation_scores,
    sensitivity_specificity,
    threshold_for_sensitivity,
)
from health.sliding_window import sliding_window_inference, window_starts


def test_dice_and_iou_on_tiny_masks():
    a = np.zeros((4, 4), bool)
    a[1:3, 1:3] = True  # 4 pixels
    b = np.zeros((4, 4), bool)
    b[1:3, 1:4] = True  # 6 pixels, 4 shared
    assert dice(a, b) == pytest.approx(0.8)
    assert iou(a, b) == pytest.approx(4 / 6)
    assert dice(np.zeros((3, 3)), np.zeros((3, 3))) == 1.0
    with pytest.raises(ValueError, match="differs from the mask shape"):
        dice(a, np.zeros((3, 3)))


def test_hd95_in_mm_matches_hand_computation():
    a = np.zeros((3, 6), bool)
    b = np.zeros((3, 6), bool)
    a[0, 0], b[0, 3] = True, True
    assert hausdorff95(a, b, spacing=(1.0, 2.0)) == pytest.approx(6.0)  # 3 columns x 2 mm
    b[0, 0] = True  # b = {(0,0), (0,3)}: a->b [0]; b->a [0, 3 mm]; 95th percentile = 0.95 * 3
    assert hausdorff95(a, b, spacing=(1.0, 1.0)) == pytest.approx(2.85)
    row = np.zeros((5, 5), bool)
    row[0, :3] = True
    shifted = np.roll(row, 2, axis=0)
    assert hausdorff95(row, shifted, spacing=(0.5, 1.0)) == pytest.approx(1.0)
    assert hausdorff95(row, row) == 0.0
    assert np.isnan(hausdorff95(row, np.zeros_like(row)))


def test_segmentation_scores_per_structure():
    truth = np.array([[0, 1, 1, 2]])
    prediction = np.array([[0, 1, 2, 2]])
    report = segmentation_scores([prediction], [truth], ["bg", "organ", "lesion"])
    assert report["per_class"]["organ"]["dice"] == pytest.approx(2 / 3)
    assert report["per_class"]["lesion"]["dice"] == pytest.approx(2 / 3)
    assert report["mean_dice"] == pytest.approx(2 / 3)
    assert "bg" not in report["per_class"]


def test_operating_point_and_calibration_by_hand():
    y = np.array([0, 0, 1, 1, 1])
    p = np.array([0.1, 0.6, 0.4, 0.8, 0.9])
    op = sensitivity_specificity(y, p, 0.5)
    assert op["sensitivity"] == pytest.approx(2 / 3) and op["specificity"] == pytest.approx(0.5)
    assert op["confusion_matrix"] == [[1, 1], [1, 2]]
    assert threshold_for_sensitivity(y, p, 1.0) == pytest.approx(0.4)
    # two bins: [0, .5) holds p .1 .4 (outcomes 0 1), [.5, 1] holds .6 .8 .9 (0 1 1)
    ece = 0.4 * abs(0.5 - 0.25) + 0.6 * abs(2 / 3 - (0.6 + 0.8 + 0.9) / 3)
    assert calibration(y, p, bins=2)["ece"] == pytest.approx(ece)
    report = binary_report(y, p)
    assert report["roc_auc"] == pytest.approx(5 / 6)  # 5 of 6 positive/negative pairs ordered
    assert 0 < report["pr_auc"] <= 1


def test_reliability_plot(tmp_path):
    path = plot_reliability([0, 1, 1, 0], [0.2, 0.7, 0.9, 0.4], tmp_path / "rel.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_roc_curves_for_binary_multiclass_and_multilabel():
    binary = roc_curves([0, 1, 1], [0.2, 0.9, 0.6], ["normal", "lesion"])
    assert list(binary) == ["lesion"]
    np.testing.assert_array_equal(binary["lesion"][0], [False, True, True])
    np.testing.assert_allclose(binary["lesion"][1], [0.2, 0.9, 0.6])
    scores = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])
    multi = roc_curves([0, 1, 2], scores, ["a", "b", "c"])
    assert list(multi) == ["a", "b", "c"]
    np.testing.assert_array_equal(multi["c"][0], [False, False, True])
    labels = np.array([[1, 0], [1, 1], [0, 1]])
    multilabel = roc_curves(labels, scores[:, :2], ["x", "y"])
    np.testing.assert_array_equal(multilabel["y"][0], [0, 1, 1])
    with pytest.raises(ValueError, match="do not match"):
        roc_curves([0, 1], scores, ["a", "b", "c"])


def test_roc_plot_with_operating_points_and_an_undefined_finding(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 50)
    curves = {
        "lesion": (y, np.clip(y * 0.6 + rng.random(50) * 0.5, 0, 1)),
        "rare": (np.zeros(50), rng.random(50)),
    }
    path = plot_roc(curves, tmp_path / "roc" / "roc.png", threshold=0.5, title="findings")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="no curves"):
        plot_roc({}, tmp_path / "none.png")
    with pytest.raises(ValueError, match="finite"):
        plot_roc({"x": ([0, 1], [0.5, float("nan")])}, tmp_path / "nan.png")


def test_sliding_window_equals_whole_image_for_a_per_pixel_model():
    rng = np.random.default_rng(0)
    image = rng.normal(size=(37, 50, 2)).astype(np.float32)
    weights = rng.normal(size=(2, 3))

    def per_pixel(batch):
        logits = batch @ weights
        e = np.exp(logits - logits.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    whole = per_pixel(image[None])[0]
    for weighting in ("gaussian", "uniform"):
        windowed = sliding_window_inference(
            image, (16, 16), per_pixel, overlap=0.5, weighting=weighting
        )
        np.testing.assert_allclose(windowed, whole, atol=1e-5)
    small = sliding_window_inference(image[:10, :12], (16, 16), per_pixel)  # padded, cropped back
    np.testing.assert_allclose(small, whole[:10, :12], atol=1e-5)
    assert window_starts(50, 16, 0.5) == [0, 8, 16, 24, 32, 34]
