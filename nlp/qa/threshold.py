"""Choosing SQuAD 2.0's no-answer threshold from labelled questions.

A question gets the empty answer when its no-answer margin (null score minus best span score)
exceeds the threshold. Given each question's margin, the F1 of its best span and the F1 of
answering nothing, the best threshold is found exactly by sweeping the sorted margins, as the
official v2.0 evaluation script does for its ``best_f1_thresh``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _checked(
    margins: Sequence[float], span_f1: Sequence[float], empty_f1: Sequence[float]
) -> tuple[np.ndarray, ...]:
    arrays = tuple(np.asarray(a, dtype=np.float64) for a in (margins, span_f1, empty_f1))
    if not all(a.ndim == 1 and len(a) == len(arrays[0]) for a in arrays):
        raise ValueError(
            f"margins, span_f1 and empty_f1 must be 1-D of one length, got shapes "
            f"{[a.shape for a in arrays]}"
        )
    if not len(arrays[0]):
        raise ValueError("no questions to choose a no-answer threshold from")
    if not np.isfinite(arrays[0]).all():
        raise ValueError("margins must be finite numbers")
    return arrays


def f1_at_threshold(
    margins: Sequence[float], span_f1: Sequence[float], empty_f1: Sequence[float], threshold: float
) -> float:
    """Mean F1 (percent) when questions with ``margin > threshold`` answer nothing."""
    margin, span, empty = _checked(margins, span_f1, empty_f1)
    return float(100.0 * np.where(margin > threshold, empty, span).mean())


def best_no_answer_threshold(
    margins: Sequence[float], span_f1: Sequence[float], empty_f1: Sequence[float]
) -> tuple[float, float]:
    """``(threshold, F1 percent)`` maximising mean F1; the threshold lies midway between margins.

    Ties keep the threshold closest to 0 (the untuned default), so a flat optimum does not drift.
    """
    margin, span, empty = _checked(margins, span_f1, empty_f1)
    order = np.argsort(margin, kind="stable")
    margin, span, empty = margin[order], span[order], empty[order]
    # Threshold below every margin: all abstain. Moving past margin i makes question i answer.
    totals = empty.sum() + np.concatenate([[0.0], np.cumsum(span - empty)])
    cuts = np.concatenate([[margin[0] - 1.0], (margin[:-1] + margin[1:]) / 2.0, [margin[-1] + 1.0]])
    # A cut equal to a margin (duplicate margins) would split a tie group; keep only real
    # boundaries.
    valid = np.concatenate([[True], margin[:-1] < margin[1:], [True]])
    best = np.flatnonzero(valid & np.isclose(totals, totals[valid].max(), rtol=0.0, atol=1e-9))
    choice = best[np.argmin(np.abs(cuts[best]))]
    return float(cuts[choice]), float(100.0 * totals[choice] / len(margin))
