"""PNG plots for reports: training curves and confusion matrices (headless Agg backend)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

_MAX_ANNOTATED_CLASSES = 30


def _prepare(path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def plot_history(history: Mapping[str, Sequence[float]], path: str | os.PathLike) -> Path:
    """Plot one subplot per metric (loss first), train vs ``val_`` curves, to a PNG at ``path``.

    Accepts ``keras.callbacks.History.history`` (a dict of per-epoch lists).
    """
    if not history or not any(len(values) for values in history.values()):
        raise ValueError("history is empty; nothing to plot.")
    families: list[str] = []
    for key in history:
        base = key[4:] if key.startswith("val_") else key
        if base not in families:
            families.append(base)
    families = sorted(families, key=lambda name: name != "loss")  # stable: loss first

    fig, axes = plt.subplots(1, len(families), figsize=(4.5 * len(families), 3.5), squeeze=False)
    try:
        for ax, family in zip(axes[0], families, strict=True):
            for key, label in ((family, "train"), (f"val_{family}", "validation")):
                values = history.get(key)
                if values is not None and len(values):
                    epochs = np.arange(1, len(values) + 1)
                    ax.plot(epochs, np.asarray(values, dtype=float), marker=".", label=label)
            ax.set_title(family)
            ax.set_xlabel("epoch")
            ax.grid(alpha=0.3)
            ax.legend()
        fig.tight_layout()
        path = _prepare(path)
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)
    return path


def plot_confusion_matrix(
    matrix: Sequence[Sequence[float]] | np.ndarray,
    class_names: Sequence[str],
    path: str | os.PathLike,
    normalize: bool = True,
    title: str = "Confusion matrix",
) -> Path:
    """Draw a confusion matrix heat map (rows = true class) with annotated cells, as a PNG.

    ``normalize`` divides each row by its total, so cells read as per-class recall fractions.
    Cell text is skipped above 30 classes, where it would be unreadable.
    """
    matrix = np.asarray(matrix, dtype=float)
    num_classes = len(class_names)
    if num_classes == 0:
        raise ValueError("class_names is empty; nothing to plot.")
    if matrix.ndim != 2 or matrix.shape != (num_classes, num_classes):
        raise ValueError(
            f"matrix shape {matrix.shape} does not match {num_classes} class names "
            f"(expected ({num_classes}, {num_classes}))."
        )
    if normalize:
        totals = matrix.sum(axis=1, keepdims=True)
        values = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
    else:
        values = matrix

    side = min(20.0, max(4.0, 0.5 * num_classes + 2.0))
    fig, ax = plt.subplots(figsize=(side + 1.0, side))
    try:
        image = ax.imshow(values, cmap="Blues", vmin=0.0, vmax=1.0 if normalize else None)
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
        ticks = np.arange(num_classes)
        ax.set_xticks(ticks, labels=[str(n) for n in class_names], rotation=45, ha="right")
        ax.set_yticks(ticks, labels=[str(n) for n in class_names])
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(title)
        if num_classes <= _MAX_ANNOTATED_CLASSES:
            threshold = values.max() / 2.0 if values.size else 0.0
            for i in range(num_classes):
                for j in range(num_classes):
                    text = f"{values[i, j]:.2f}" if normalize else f"{values[i, j]:g}"
                    color = "white" if values[i, j] > threshold else "black"
                    ax.text(j, i, text, ha="center", va="center", color=color, fontsize=8)
        fig.tight_layout()
        path = _prepare(path)
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)
    return path
