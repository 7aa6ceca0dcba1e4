"""Evaluation reports: metrics JSON + per-class CSV / markdown tables (``write_report``) and PNG
plots, training curves in a grid and confusion matrices (headless Agg backend)."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

_MAX_ANNOTATED_CLASSES = 30


def _prepare(path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def save_figure(fig: Any, path: str | os.PathLike, dpi: int = 100) -> Path:
    """Lay out ``fig`` tightly and write it as a PNG at ``path`` (folders made as needed)."""
    fig.tight_layout()
    path = _prepare(path)
    fig.savefig(path, dpi=dpi)
    return path


def plot_history(history: Any, path: str | os.PathLike, columns: int = 3) -> Path:
    """Plot one panel per metric (loss first), train vs ``val_`` curves, in a grid of up to
    ``columns`` panels per row, to a PNG at ``path``.

    Accepts ``keras.callbacks.History`` or its ``.history`` (a dict of per-epoch lists).
    """
    history = getattr(history, "history", history)
    if not history or not any(len(values) for values in history.values()):
        raise ValueError("history is empty; nothing to plot.")
    if int(columns) < 1:
        raise ValueError(f"columns must be >= 1, got {columns!r}.")
    families: list[str] = []
    for key in history:
        base = key[4:] if key.startswith("val_") else key
        if base not in families:
            families.append(base)
    families = sorted(families, key=lambda name: name != "loss")  # stable: loss first

    cols = min(int(columns), len(families))
    rows = math.ceil(len(families) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.5 * cols, 3.5 * rows), squeeze=False)
    try:
        for ax in axes.flat[len(families) :]:
            ax.set_visible(False)
        for ax, family in zip(axes.flat, families, strict=False):
            for key, label in ((family, "train"), (f"val_{family}", "validation")):
                values = history.get(key)
                if values is not None and len(values):
                    epochs = np.arange(1, len(values) + 1)
                    ax.plot(epochs, np.asarray(values, dtype=float), marker=".", label=label)
            ax.set_title(family)
            ax.set_xlabel("epoch")
            ax.grid(alpha=0.3)
            ax.legend()
        path = save_figure(fig, path)
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
        path = save_figure(fig, path)
    finally:
        plt.close(fig)
    return path


def caption_images(images: Any, captions: Sequence[str], scale: int | None = None) -> np.ndarray:
    """Each image (N, H, W, 1|3; uint8 or floats in [0, 1]) enlarged ``scale`` times (nearest;
    default: to at least 96 pixels) with its caption in a white band below, as (N, H', W', 3)
    uint8 - e.g. a classifier's predicted label and score for ``SamplePredictions``."""
    from PIL import Image, ImageDraw, ImageFont

    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"images must be (N, H, W, 1|3), got shape {images.shape}")
    if len(captions) != len(images):
        raise ValueError(f"{len(images)} images but {len(captions)} captions")
    if images.dtype != np.uint8:
        images = (np.clip(images.astype(np.float32), 0, 1) * 255).round().astype(np.uint8)
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    height, width = images.shape[1:3]
    scale = int(scale) if scale else max(1, -(-96 // max(1, min(height, width))))
    font = ImageFont.load_default(size=12)
    band = 18
    out = []
    for image, caption in zip(images, captions, strict=True):
        picture = Image.fromarray(image).resize(
            (width * scale, height * scale), Image.Resampling.NEAREST
        )
        canvas = Image.new("RGB", (picture.width, picture.height + band), (255, 255, 255))
        canvas.paste(picture, (0, 0))
        ImageDraw.Draw(canvas).text((2, picture.height + 2), str(caption), fill=0, font=font)
        out.append(np.asarray(canvas))
    return np.stack(out)


# ------------------------------------------------------------------ report files
class ReportExistsError(FileExistsError):
    """A report folder already holds a different report; it is never overwritten silently."""


def _plain(value: Any) -> Any:
    """JSON-ready copy: NumPy scalars/arrays to Python, NaN/inf to None, paths to strings."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def _cell(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|")


def _columns(per_class: Mapping[str, Mapping[str, Any]]) -> list[str]:
    columns: list[str] = []
    for row in per_class.values():
        columns.extend(k for k, v in row.items() if _is_scalar(v) and k not in columns)
    return columns


def _markdown(title: str, metrics: Mapping[str, Any], per_class: Mapping | None) -> str:
    lines = [f"# {title}", "", "| metric | value |", "| --- | --- |"]
    lines += [f"| {k} | {_cell(v)} |" for k, v in metrics.items() if _is_scalar(v)]
    if per_class:
        columns = _columns(per_class)
        lines += ["", "## Per class", "", "| class | " + " | ".join(columns) + " |"]
        lines.append("| --- |" + " --- |" * len(columns))
        for name, row in per_class.items():
            cells = " | ".join(_cell(row.get(c)) for c in columns)
            lines.append(f"| {_cell(name)} | {cells} |")
    return "\n".join(lines) + "\n"


def _csv(per_class: Mapping[str, Mapping[str, Any]]) -> str:
    columns = _columns(per_class)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["class", *columns])
    for name, row in per_class.items():
        writer.writerow([name, *("" if row.get(c) is None else row.get(c) for c in columns)])
    return buffer.getvalue()


REPORT_FILES = ("metrics.json", "per_class.csv", "report.md")


def existing_report(report_dir: str | os.PathLike, prefix: str = "") -> list[Path]:
    """The report files ``write_report`` would write that already exist in ``report_dir``.

    Check it before an evaluation draws its pictures, so a refused report leaves them alone.
    """
    folder = Path(report_dir)
    return [
        folder / f"{prefix}{name}" for name in REPORT_FILES if (folder / f"{prefix}{name}").exists()
    ]


def write_report(
    report_dir: str | os.PathLike,
    metrics: Mapping[str, Any],
    per_class: Mapping[str, Mapping[str, Any]] | None = None,
    prefix: str = "",
    title: str = "Evaluation report",
    overwrite: bool = False,
) -> dict[str, Path]:
    """Write ``metrics.json``, ``per_class.csv`` and ``report.md`` (summary + per-class table).

    ``per_class`` maps class name -> {metric: value}; by default it is ``metrics["per_class"]``
    when that is such a mapping. ``prefix`` names the files (``val_metrics.json``) so several
    reports share a folder. A folder already holding a *different* report with these names
    raises ``ReportExistsError`` before anything is written, unless ``overwrite``; an identical
    one is left as it is. Files are written whole (write-then-rename). Returns the paths.
    """
    from common.atomic import staged

    if not isinstance(metrics, Mapping):
        raise ValueError(f"metrics must be a mapping, got {type(metrics).__name__}")
    if per_class is None:
        candidate = metrics.get("per_class")
        if isinstance(candidate, Mapping) and all(
            isinstance(v, Mapping) for v in candidate.values()
        ):
            per_class = candidate
    plain = _plain(metrics)
    plain_per_class = _plain(per_class) if per_class else None
    contents = {"metrics": json.dumps(plain, indent=2, allow_nan=False) + "\n"}
    if plain_per_class:
        contents["per_class"] = _csv(plain_per_class)
    contents["markdown"] = _markdown(title, plain, plain_per_class)
    names = dict(zip(("metrics", "per_class", "markdown"), REPORT_FILES, strict=True))
    report_dir = Path(report_dir)
    paths = {key: report_dir / f"{prefix}{names[key]}" for key in contents}
    clashes = [
        path.name
        for key, path in paths.items()
        if path.exists() and (not path.is_file() or path.read_text() != contents[key])
    ]
    if clashes and not overwrite:
        raise ReportExistsError(
            f"{report_dir} already holds a different report ({', '.join(clashes)}); "
            "choose another report folder or prefix, or pass overwrite=True"
        )
    report_dir.mkdir(parents=True, exist_ok=True)
    for key, path in paths.items():
        if path.is_file() and path.read_text() == contents[key]:
            continue
        with staged(path) as staging:
            staging.write_text(contents[key])
    return paths
