"""Detection metrics: ROC-AUC and PR-AUC of the scores (scikit-learn), F1 / precision / recall
at a threshold (``score > threshold`` is an anomaly), the best-F1 threshold, and per-series
NAB-style window detection."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

from health.anomaly.data import TimeSeries
from health.anomaly.windows import window_detection


def best_f1_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The threshold with the best F1 under the rule ``score > threshold``.

    ``precision_recall_curve`` flags ``score >= t``; the float32 value just below ``t`` gives
    the same flags with ``>`` in float32, the exported graph's precision."""
    precision, recall, thresholds = precision_recall_curve(labels, scores)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    best = np.float32(thresholds[int(np.argmax(f1[:-1]))])
    return float(np.nextafter(best, np.float32(-np.inf)))


def at_threshold(scores: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, float]:
    """Precision, recall and F1 of ``score > threshold`` (compared in float32)."""
    flags = np.asarray(scores, np.float32) > np.float32(threshold)
    labels = np.asarray(labels).astype(bool)
    tp = float(np.sum(flags & labels))
    precision = tp / max(float(flags.sum()), 1.0)
    recall = tp / max(float(labels.sum()), 1.0)
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    return {"precision": precision, "recall": recall, "f1": f1}


def detection_report(scores: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, Any]:
    """ROC-AUC, PR-AUC (average precision) and the threshold metrics; AUCs are None when the
    labels hold one class only."""
    labels = np.asarray(labels).astype(np.int64)
    both = 0 < labels.sum() < len(labels)
    return {
        "roc_auc": float(roc_auc_score(labels, scores)) if both else None,
        "pr_auc": float(average_precision_score(labels, scores)) if both else None,
        **at_threshold(scores, labels, threshold),
        "threshold": float(threshold),
        "count": int(len(labels)),
        "anomalies": int(labels.sum()),
    }


def series_report(
    series: Sequence[TimeSeries], scores: np.ndarray, threshold: float
) -> dict[str, Any]:
    """Window detection summed over the series, plus each series' own point and window
    metrics (``scores`` are the series' point scores, concatenated in order)."""
    per_series, totals = {}, {"windows": 0, "windows_detected": 0, "false_alarm_events": 0}
    offset = 0
    for s in series:
        own = scores[offset : offset + len(s.values)]
        offset += len(s.values)
        found = window_detection(own > np.float32(threshold), s.windows)
        per_series[s.name] = {**detection_report(own, s.point_labels, threshold), **found}
        for key in totals:
            totals[key] += found[key]
    recall = totals["windows_detected"] / totals["windows"] if totals["windows"] else None
    return {**totals, "window_recall": recall, "per_series": per_series}
