"""Medical evaluation metrics: overlap (Dice, IoU) and boundary distance (HD95 in mm) for
segmentation; ROC-AUC, PR-AUC, sensitivity / specificity at an operating point and calibration
(expected calibration error, reliability diagram) and ROC curves (``plot_roc``) for classification.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def _pair(prediction, truth) -> tuple[np.ndarray, np.ndarray]:
    prediction, truth = np.asarray(prediction).astype(bool), np.asarray(truth).astype(bool)
    if prediction.shape != truth.shape:
        raise ValueError(
            f"prediction shape {prediction.shape} differs from the mask shape {truth.shape}"
        )
    return prediction, truth


def dice(prediction, truth) -> float:
    """Dice ``2|A and B| / (|A| + |B|)`` of two binary masks; 1.0 when both are empty."""
    a, b = _pair(prediction, truth)
    total = a.sum() + b.sum()
    return 1.0 if total == 0 else float(2.0 * np.logical_and(a, b).sum() / total)


def iou(prediction, truth) -> float:
    """Intersection over union of two binary masks; 1.0 when both are empty."""
    a, b = _pair(prediction, truth)
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def _surface(mask: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    structure = ndimage.generate_binary_structure(mask.ndim, 1)
    return mask & ~ndimage.binary_erosion(mask, structure, border_value=0)


def surface_distances(
    prediction, truth, spacing: Sequence[float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Distances (mm) from each surface voxel of ``prediction`` to the surface of ``truth`` and
    back; surfaces are the voxels with a 1-connected background neighbour."""
    from scipy import ndimage

    a, b = _pair(prediction, truth)
    spacing = tuple(float(s) for s in spacing) if spacing is not None else (1.0,) * a.ndim
    if len(spacing) != a.ndim:
        raise ValueError(f"spacing {spacing} has {len(spacing)} values for {a.ndim}-D masks")
    surface_a, surface_b = _surface(a), _surface(b)
    to_b = ndimage.distance_transform_edt(~surface_b, sampling=spacing)
    to_a = ndimage.distance_transform_edt(~surface_a, sampling=spacing)
    return to_b[surface_a], to_a[surface_b]


def hausdorff95(prediction, truth, spacing: Sequence[float] | None = None) -> float:
    """95th-percentile Hausdorff distance in mm: the larger of the two directed 95th percentiles
    of surface distances (the MONAI / medical-decathlon convention). ``nan`` if either mask is
    empty (undefined), 0.0 for identical masks."""
    a, b = _pair(prediction, truth)
    if not a.any() or not b.any():
        return float("nan")
    forward, backward = surface_distances(a, b, spacing)
    return float(max(np.percentile(forward, 95), np.percentile(backward, 95)))


def segmentation_scores(
    predictions: Sequence[np.ndarray],
    truths: Sequence[np.ndarray],
    classes: Sequence[str],
    spacing: Sequence[float] | None = None,
    include_background: bool = False,
) -> dict:
    """Per-structure Dice, IoU and HD95 (mm) averaged over cases, plus their means over structures.

    Cases where a structure is absent from both truth and prediction count as Dice 1 and are
    left out of HD95 (undefined); ``hd95_undefined`` counts cases where only one side has it.
    """
    if len(predictions) != len(truths) or not len(truths):
        raise ValueError(
            f"need matching, non-empty lists of masks, got {len(predictions)} and {len(truths)}"
        )
    first = 0 if include_background else 1
    per_class = {}
    for k in range(first, len(classes)):
        dices, ious, hds, undefined = [], [], [], 0
        for prediction, truth in zip(predictions, truths, strict=True):
            p, t = np.asarray(prediction) == k, np.asarray(truth) == k
            dices.append(dice(p, t))
            ious.append(iou(p, t))
            if p.any() and t.any():
                hds.append(hausdorff95(p, t, spacing))
            elif p.any() or t.any():
                undefined += 1
        per_class[classes[k]] = {
            "dice": float(np.mean(dices)),
            "iou": float(np.mean(ious)),
            "hd95_mm": float(np.mean(hds)) if hds else float("nan"),
            "hd95_undefined": undefined,
            "cases_with_structure": int(sum(bool((np.asarray(t) == k).any()) for t in truths)),
        }
    return {
        "mean_dice": float(np.mean([v["dice"] for v in per_class.values()])),
        "mean_iou": float(np.mean([v["iou"] for v in per_class.values()])),
        "mean_hd95_mm": float(np.nanmean([v["hd95_mm"] for v in per_class.values()]))
        if any(np.isfinite(v["hd95_mm"]) for v in per_class.values())
        else float("nan"),
        "per_class": per_class,
        "num_cases": len(truths),
    }


# ------------------------------------------------------------------ classification
def sensitivity_specificity(y_true, y_score, threshold: float = 0.5) -> dict:
    """Sensitivity (recall of positives), specificity, PPV and NPV at ``score >= threshold``."""
    y_true = np.asarray(y_true).astype(bool)
    predicted = np.asarray(y_score) >= threshold
    tp, tn = int(np.sum(predicted & y_true)), int(np.sum(~predicted & ~y_true))
    fp, fn = int(np.sum(predicted & ~y_true)), int(np.sum(~predicted & y_true))
    ratio = lambda a, b: float(a / (a + b)) if a + b else float("nan")  # noqa: E731
    return {
        "threshold": float(threshold),
        "sensitivity": ratio(tp, fn),
        "specificity": ratio(tn, fp),
        "ppv": ratio(tp, fp),
        "npv": ratio(tn, fn),
        "confusion_matrix": [[tn, fp], [fn, tp]],
    }


def threshold_for_sensitivity(y_true, y_score, sensitivity: float) -> float:
    """The highest threshold whose sensitivity reaches ``sensitivity`` (an operating point)."""
    positives = np.sort(np.asarray(y_score)[np.asarray(y_true).astype(bool)])
    if positives.size == 0:
        raise ValueError("no positive examples to choose an operating point from")
    index = int(np.floor((1.0 - sensitivity) * positives.size))
    return float(positives[min(index, positives.size - 1)])


def calibration(y_true, y_prob, bins: int = 10) -> dict:
    """Expected calibration error over equal-width confidence bins, with the per-bin table.

    ``y_true`` are 0/1 outcomes and ``y_prob`` the predicted probability of outcome 1;
    ECE = sum_b (n_b / N) * |mean outcome_b - mean probability_b|.
    """
    y_true, y_prob = np.asarray(y_true, float).ravel(), np.asarray(y_prob, float).ravel()
    if y_true.shape != y_prob.shape or y_true.size == 0:
        raise ValueError("calibration needs equally long, non-empty outcomes and probabilities")
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(y_prob, edges[1:-1]), 0, bins - 1)
    table, ece = [], 0.0
    for b in range(bins):
        chosen = which == b
        if not chosen.any():
            continue
        accuracy, confidence = float(y_true[chosen].mean()), float(y_prob[chosen].mean())
        ece += chosen.mean() * abs(accuracy - confidence)
        table.append(
            {"bin": b, "count": int(chosen.sum()), "observed": accuracy, "predicted": confidence}
        )
    return {"ece": float(ece), "bins": table}


def binary_report(y_true, y_prob, threshold: float = 0.5, bins: int = 10) -> dict:
    """ROC-AUC, PR-AUC (average precision), operating point and calibration for one finding."""
    from sklearn import metrics as skm

    y_true = np.asarray(y_true).astype(int)
    y_prob = np.asarray(y_prob, float)
    if not np.all(np.isfinite(y_prob)):
        raise ValueError("scores hold NaN or infinite values")
    both = len(np.unique(y_true)) == 2
    report = {
        "roc_auc": float(skm.roc_auc_score(y_true, y_prob)) if both else float("nan"),
        "pr_auc": float(skm.average_precision_score(y_true, y_prob))
        if y_true.any()
        else float("nan"),
        "prevalence": float(y_true.mean()),
        **sensitivity_specificity(y_true, y_prob, threshold),
        "ece": calibration(y_true, y_prob, bins)["ece"],
    }
    return report


def plot_reliability(
    y_true, y_prob, path: str | os.PathLike, bins: int = 10, title: str = ""
) -> Path:
    """Reliability diagram (observed frequency vs mean predicted probability per bin) as PNG."""
    from common.plots import plt, save_figure  # headless (Agg) pyplot

    table = calibration(y_true, y_prob, bins)
    fig, ax = plt.subplots(figsize=(4, 4))
    try:
        ax.plot([0, 1], [0, 1], "k--", label="perfectly calibrated")
        ax.plot(
            [r["predicted"] for r in table["bins"]],
            [r["observed"] for r in table["bins"]],
            "o-",
            label=f"model (ECE {table['ece']:.3f})",
        )
        ax.set_xlabel("mean predicted probability")
        ax.set_ylabel("observed frequency")
        ax.set_title(title or "reliability")
        ax.legend(loc="upper left")
        path = save_figure(fig, path)
    finally:
        plt.close(fig)
    return path


def roc_curves(y_true, y_score, class_names: Sequence[str]) -> dict[str, tuple]:
    """{finding: (0/1 outcomes, scores)} for ``plot_roc`` from labels and class probabilities.

    Binary (two names): the second class is the finding. Multi-class (``y_true`` integer labels):
    one-vs-rest per class. Multi-label (``y_true`` multi-hot (N, K)): one per class.
    """
    y_true, y_score = np.asarray(y_true), np.asarray(y_score, float)
    names = [str(n) for n in class_names]
    if y_score.ndim == 1:
        y_score = np.stack([1.0 - y_score, y_score], axis=1)
    if y_score.ndim != 2 or y_score.shape[1] != len(names) or len(y_score) != len(y_true):
        raise ValueError(
            f"scores of shape {y_score.shape} do not match {len(y_true)} labels and "
            f"{len(names)} classes"
        )
    if y_true.ndim == 2:
        return {n: (y_true[:, k], y_score[:, k]) for k, n in enumerate(names)}
    if len(names) == 2:
        return {names[1]: (y_true == 1, y_score[:, 1])}
    return {n: (y_true == k, y_score[:, k]) for k, n in enumerate(names)}


def plot_roc(
    curves: dict[str, tuple],
    path: str | os.PathLike,
    threshold: float | None = None,
    title: str = "",
) -> Path:
    """ROC curve PNG, one curve per finding with its AUC in the legend (``roc_curves`` builds
    ``curves`` from labels); ``threshold`` marks each curve's operating point. A finding whose
    outcomes are all one value has no curve and is listed as undefined."""
    from sklearn import metrics as skm

    from common.plots import plt, save_figure  # headless (Agg) pyplot

    if not curves:
        raise ValueError("no curves to plot")
    fig, ax = plt.subplots(figsize=(5, 5))
    try:
        ax.plot([0, 1], [0, 1], "k--", linewidth=1, label="chance (AUC 0.5)")
        for name, (y_true, y_score) in curves.items():
            y_true = np.asarray(y_true).astype(int).ravel()
            y_score = np.asarray(y_score, float).ravel()
            if y_true.shape != y_score.shape or not np.all(np.isfinite(y_score)):
                raise ValueError(f"{name}: outcomes and scores must match and be finite")
            if len(np.unique(y_true)) < 2:
                ax.plot([], [], " ", label=f"{name}: undefined (one outcome only)")
                continue
            fpr, tpr, _ = skm.roc_curve(y_true, y_score)
            (line,) = ax.plot(fpr, tpr, label=f"{name} (AUC {skm.auc(fpr, tpr):.3f})")
            if threshold is not None:
                point = sensitivity_specificity(y_true, y_score, threshold)
                ax.plot(1 - point["specificity"], point["sensitivity"], "o", color=line.get_color())
        if threshold is not None:
            ax.plot([], [], "ko", label=f"operating point (threshold {threshold:g})")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("1 - specificity (false positive rate)")
        ax.set_ylabel("sensitivity (true positive rate)")
        ax.set_title(title or "ROC")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
        path = save_figure(fig, path)
    finally:
        plt.close(fig)
    return path
