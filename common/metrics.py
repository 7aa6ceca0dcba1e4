"""Classification evaluation report built on scikit-learn, returned as plain JSON-ready Python.

One function every classifier's ``evaluate`` calls, so reports look the same across domains.
Keras metrics (``F1Score``, ``Precision``, ...) stream during training; a report from the full
predictions with a confusion matrix and per-class table is scikit-learn's job.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from sklearn import metrics as skm
from sklearn.exceptions import UndefinedMetricWarning


def _validate(y_true, y_score, class_names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    y_true = np.asarray(y_true)
    y_score = np.asarray(y_score, dtype=np.float64)
    num_classes = len(class_names)
    if num_classes < 2:
        raise ValueError(f"class_names must name at least 2 classes, got {num_classes}.")
    if y_true.ndim != 1:
        raise ValueError(f"y_true must be a 1-D array of integer labels, got shape {y_true.shape}.")
    if y_true.shape[0] == 0:
        raise ValueError("Cannot build a classification report from empty input.")
    if y_score.ndim != 2:
        raise ValueError(f"y_score must be 2-D (examples, classes), got shape {y_score.shape}.")
    if y_score.shape[0] != y_true.shape[0]:
        raise ValueError(
            f"y_true has {y_true.shape[0]} examples but y_score has {y_score.shape[0]}."
        )
    if y_score.shape[1] != num_classes:
        raise ValueError(
            f"y_score has {y_score.shape[1]} columns but there are {num_classes} class names."
        )
    if not np.issubdtype(y_true.dtype, np.integer):
        if not np.all(np.equal(np.mod(y_true, 1), 0)):
            raise ValueError("y_true must hold integer class labels.")
        y_true = y_true.astype(np.int64)
    if y_true.min() < 0 or y_true.max() >= num_classes:
        raise ValueError(
            f"y_true labels must be in [0, {num_classes - 1}], "
            f"got values in [{y_true.min()}, {y_true.max()}]."
        )
    if not np.all(np.isfinite(y_score)):
        raise ValueError("y_score contains NaN or infinite values.")
    return y_true, y_score


def classification_report(
    y_true: Sequence[int] | np.ndarray,
    y_score: Sequence[Sequence[float]] | np.ndarray,
    class_names: Sequence[str],
    top_k: int = 5,
) -> dict:
    """Accuracy, top-k accuracy, macro/weighted P/R/F1, per-class scores and confusion matrix.

    ``y_true`` holds integer labels (N,), ``y_score`` class probabilities (N, C). The top-k
    key is ``top_{k}_accuracy`` with ``k = min(top_k, C)`` and is omitted when C <= 2.
    """
    y_true, y_score = _validate(y_true, y_score, class_names)
    num_classes = len(class_names)
    labels = list(range(num_classes))
    y_pred = np.argmax(y_score, axis=1)

    report: dict = {"accuracy": float(skm.accuracy_score(y_true, y_pred))}
    if num_classes > 2:
        k = min(int(top_k), num_classes)
        with warnings.catch_warnings():  # k == C is trivially 1.0; report it without noise
            warnings.simplefilter("ignore", UndefinedMetricWarning)
            report[f"top_{k}_accuracy"] = float(
                skm.top_k_accuracy_score(y_true, y_score, k=k, labels=labels)
            )
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    _, _, weighted_f1, _ = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average="weighted", zero_division=0
    )
    report.update(
        macro_precision=float(np.mean(precision)),
        macro_recall=float(np.mean(recall)),
        macro_f1=float(np.mean(f1)),
        weighted_f1=float(weighted_f1),
        per_class={
            str(name): {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(class_names)
        },
        confusion_matrix=skm.confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        num_examples=int(y_true.shape[0]),
    )
    return report
