"""A picture of a scored series: the values with labelled windows (grey) and detected events
(red), and the per-point score against the threshold below."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from common.atomic import staged
from common.plots import plt


def plot_series_scores(
    values: np.ndarray,
    scores: np.ndarray,
    threshold: float,
    path: str | os.PathLike,
    labelled: Sequence[tuple[int, int]] = (),
    detected: Sequence[tuple[int, int]] = (),
    title: str = "",
) -> Path:
    """Write the two-panel PNG to ``path`` (staged, then renamed into place)."""
    values, scores = np.asarray(values), np.asarray(scores)
    if values.shape != scores.shape or values.ndim != 1:
        raise ValueError(
            f"values and scores must be 1-D of one length, got {values.shape} and {scores.shape}"
        )
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 5), sharex=True)
    top.plot(values, lw=0.7, color="black")
    for i, (start, end) in enumerate(labelled):
        top.axvspan(start, end, color="grey", alpha=0.3, label="labelled" if i == 0 else None)
    for i, (start, end) in enumerate(detected):
        for axis in (top, bottom):
            axis.axvspan(
                start,
                end + 1,
                color="red",
                alpha=0.25,
                label="detected" if i == 0 and axis is top else None,
            )
    top.set_ylabel("value")
    top.set_title(title)
    if len(labelled) or len(detected):
        top.legend(loc="upper right")
    bottom.plot(scores, lw=0.7, color="tab:blue")
    bottom.axhline(threshold, color="red", ls="--", lw=1, label=f"threshold {threshold:.3g}")
    bottom.set_yscale("log")
    bottom.set_ylabel("score")
    bottom.set_xlabel("point")
    bottom.legend(loc="upper right")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with staged(path) as staging:
        fig.savefig(staging, dpi=90, format="png")
    plt.close(fig)
    return path
