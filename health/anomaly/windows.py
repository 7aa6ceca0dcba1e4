"""Windowing for long series and the window-level view of anomalies (NumPy).

A long series is cut into windows of ``window`` points every ``stride`` points, the last window
ending on the last point, so every point is covered. A per-window, per-point quantity (squared
reconstruction error, a reconstruction) goes back to one value per point by averaging over the
windows that cover it (``to_points``; the exported graph does the same with segment sums, see
``health.anomaly.scoring``). ``window_detection`` scores detections the NAB way: a labelled
window is found if any point in it is flagged; flagged runs outside every window are false
alarms.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from health.anomaly.data import runs


def check_long_enough(length: int, window: int, what: str = "series") -> None:
    """A series shorter than the window cannot be scored: say so."""
    if length < window:
        raise ValueError(f"the {what} has {length} points, shorter than the window of {window}")


def window_starts(length: int, window: int, stride: int) -> np.ndarray:
    """Start indices every ``stride`` points, plus a last one ending on the last point."""
    check_long_enough(length, window)
    starts = np.arange(0, length - window + 1, stride)
    if starts[-1] != length - window:
        starts = np.append(starts, length - window)
    return starts


def frames(values: np.ndarray, window: int, stride: int) -> np.ndarray:
    """``[n]`` -> ``[windows, window]`` (copies; see ``window_starts``)."""
    values = np.asarray(values)
    starts = window_starts(len(values), window, stride)
    return values[starts[:, None] + np.arange(window)]


def to_points(per_window: np.ndarray, length: int, stride: int) -> np.ndarray:
    """``[windows, window]`` values -> ``[length]``: the mean over the windows covering each
    point (the inverse view of ``frames``)."""
    per_window = np.asarray(per_window, np.float64)
    window = per_window.shape[1]
    index = (window_starts(length, window, stride)[:, None] + np.arange(window)).ravel()
    total = np.bincount(index, per_window.ravel(), minlength=length)
    count = np.bincount(index, minlength=length)
    return total / count


def window_detection(flags: np.ndarray, windows: list[tuple[int, int]]) -> dict[str, Any]:
    """NAB-style: labelled windows with at least one flagged point, and flagged runs (events)
    touching no labelled window (false alarms)."""
    flags = np.asarray(flags, bool)
    found = [bool(flags[a : b + 1].any()) for a, b in windows]
    events = runs(flags)
    false = [e for e in events if not any(e[0] <= b and e[1] >= a for a, b in windows)]
    return {
        "windows": len(windows),
        "windows_detected": int(sum(found)),
        "window_recall": float(np.mean(found)) if windows else None,
        "events": len(events),
        "false_alarm_events": len(false),
    }
