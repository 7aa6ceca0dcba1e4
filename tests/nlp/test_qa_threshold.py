"""``nlp.qa.threshold``: the no-answer threshold sweep against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from nlp.qa.threshold import best_no_answer_threshold, f1_at_threshold

# Four questions: two answerable (span F1 1.0 and 0.5), two unanswerable (span F1 0).
MARGINS = [-2.0, 1.0, 3.0, 0.0]
SPAN_F1 = [1.0, 0.5, 0.0, 0.0]
EMPTY_F1 = [0.0, 0.0, 1.0, 1.0]


def test_f1_at_threshold_abstains_above_the_threshold():
    # Threshold 0: margins -2 and 0 answer (F1 1 and 0), margins 1 and 3 abstain (F1 0 and 1).
    assert f1_at_threshold(MARGINS, SPAN_F1, EMPTY_F1, 0.0) == pytest.approx(100 * 2 / 4)
    assert f1_at_threshold(MARGINS, SPAN_F1, EMPTY_F1, 10.0) == pytest.approx(
        100 * 1.5 / 4
    )  # answers all
    assert f1_at_threshold(MARGINS, SPAN_F1, EMPTY_F1, -10.0) == pytest.approx(
        100 * 2 / 4
    )  # abstains on all


def test_best_threshold_is_found_exactly_and_lies_between_margins():
    # Sorted margins -2, 0, 1, 3. Answering the lowest k: k=0 -> 2, k=1 -> 3, k=2 -> 2, k=3 ->
    # 2.5, k=4 -> 1.5.
    threshold, f1 = best_no_answer_threshold(MARGINS, SPAN_F1, EMPTY_F1)
    assert f1 == pytest.approx(75.0)
    assert threshold == pytest.approx(-1.0)  # midway between -2 and 0
    assert f1_at_threshold(MARGINS, SPAN_F1, EMPTY_F1, threshold) == pytest.approx(f1)


def test_best_threshold_never_loses_to_any_other_threshold():
    rng = np.random.default_rng(0)
    margins = np.round(rng.normal(size=200), 1)  # many exact ties
    impossible = rng.random(200) < 0.5
    span = np.where(impossible, 0.0, rng.random(200))
    empty = impossible.astype(float)
    threshold, f1 = best_no_answer_threshold(margins, span, empty)
    assert f1_at_threshold(margins, span, empty, threshold) == pytest.approx(f1)
    for candidate in np.linspace(-4, 4, 161):
        assert f1_at_threshold(margins, span, empty, candidate) <= f1 + 1e-9


def test_flat_optimum_keeps_the_threshold_nearest_zero():
    threshold, f1 = best_no_answer_threshold([-1.0, 2.0], [0.0, 0.0], [0.0, 0.0])
    assert f1 == 0.0 and threshold == pytest.approx(0.5)


def test_bad_inputs_are_value_errors():
    with pytest.raises(ValueError, match="one length"):
        best_no_answer_threshold([0.0, 1.0], [1.0], [0.0, 0.0])
    with pytest.raises(ValueError, match="no questions"):
        best_no_answer_threshold([], [], [])
    with pytest.raises(ValueError, match="finite"):
        f1_at_threshold([np.nan], [1.0], [0.0], 0.0)
