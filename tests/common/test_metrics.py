"""Tests for common.metrics.classification_report on hand-checked tiny examples."""

import json

import numpy as np
import pytest

from common.metrics import classification_report

NAMES = ["cat", "dog", "bird"]
Y_TRUE = np.array([0, 0, 1, 1, 2, 2])
# argmax: 0, 1, 1, 1, 2, 0 -> 4 of 6 correct
Y_SCORE = np.array(
    [
        [0.8, 0.1, 0.1],
        [0.3, 0.6, 0.1],
        [0.2, 0.7, 0.1],
        [0.1, 0.5, 0.4],
        [0.1, 0.2, 0.7],
        [0.5, 0.1, 0.4],
    ]
)


def test_report_values_match_hand_computation():
    report = classification_report(Y_TRUE, Y_SCORE, NAMES, top_k=2)
    assert report["num_examples"] == 6
    assert report["accuracy"] == pytest.approx(4 / 6)
    # The two misses (rows 1 and 5) rank the true class 2nd -> all six are in the top 2.
    assert report["top_2_accuracy"] == pytest.approx(1.0)
    assert report["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]

    cat, dog, bird = (report["per_class"][n] for n in NAMES)
    assert cat == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert dog == pytest.approx({"precision": 2 / 3, "recall": 1.0, "f1": 0.8, "support": 2})
    assert bird == pytest.approx({"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2})
    assert report["macro_precision"] == pytest.approx((0.5 + 2 / 3 + 1.0) / 3)
    assert report["macro_recall"] == pytest.approx((0.5 + 1.0 + 0.5) / 3)
    assert report["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert report["weighted_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)  # equal supports
    assert json.loads(json.dumps(report)) == report


def test_top_k_is_clamped_and_omitted_for_binary():
    report = classification_report(Y_TRUE, Y_SCORE, NAMES)  # top_k=5 > 3 classes
    assert report["top_3_accuracy"] == pytest.approx(1.0)
    assert not any(k.startswith("top_5") for k in report)

    binary = classification_report([0, 1, 1], [[0.9, 0.1], [0.4, 0.6], [0.7, 0.3]], ["no", "yes"])
    assert not any(k.startswith("top_") for k in binary)
    assert binary["accuracy"] == pytest.approx(2 / 3)


def test_absent_class_gets_zero_scores_and_full_width_matrix():
    report = classification_report([0, 0], [[0.9, 0.05, 0.05], [0.8, 0.1, 0.1]], NAMES)
    assert report["per_class"]["bird"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert report["confusion_matrix"] == [[2, 0, 0], [0, 0, 0], [0, 0, 0]]
    assert report["weighted_f1"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    "y_true, y_score, match",
    [
        ([], np.zeros((0, 3)), "empty"),
        ([0, 1], Y_SCORE, "examples"),
        (Y_TRUE, Y_SCORE[:, :2], "columns"),
        (Y_TRUE, Y_SCORE[:, 0], "2-D"),
        ([0, 1, 3, 0, 0, 0], Y_SCORE, r"\[0, 2\]"),
        ([0.5, 1, 2, 0, 0, 0], Y_SCORE, "integer"),
    ],
)
def test_bad_input_raises_value_error(y_true, y_score, match):
    with pytest.raises(ValueError, match=match):
        classification_report(y_true, y_score, NAMES)
