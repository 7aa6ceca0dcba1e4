"""Loaders for signals and time series, each checked for what breaks a detector.

Fixed-length samples (an ECG beat per row) are a ``SignalSet``; long series (a sensor, a
metric) are ``TimeSeries``. Readers: UCR text (label, then samples), NAB CSV plus its windows
JSON, any CSV with a timestamp column, NumPy arrays; and synthetic sets generated in code for
tests and the demo. Bad input (NaN samples, non-numeric CSV cells, ragged rows) is a
``ValueError`` naming the file, row and column.
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


@dataclasses.dataclass
class SignalSet:
    """Fixed-length samples ``[n, length]`` and 0/1 labels (1 = anomaly; None = unlabelled)."""

    samples: np.ndarray
    labels: np.ndarray | None = None
    classes: np.ndarray | None = None  # the file's own class column (e.g. UCR's 1..5)

    def __len__(self) -> int:
        return len(self.samples)

    def subset(self, index: Any) -> SignalSet:
        pick = lambda a: None if a is None else a[index]  # noqa: E731
        return SignalSet(self.samples[index], pick(self.labels), pick(self.classes))


@dataclasses.dataclass
class TimeSeries:
    """One long series: values ``[n]``, optional timestamps, labelled anomaly windows as
    inclusive index pairs, and a name."""

    values: np.ndarray
    timestamps: np.ndarray | None = None
    windows: list[tuple[int, int]] = dataclasses.field(default_factory=list)
    name: str = "series"
    labelled: bool = True  # False: windows unknown (no labels), not "no anomalies"

    @property
    def point_labels(self) -> np.ndarray:
        """0/1 per point: 1 inside a labelled window."""
        labels = np.zeros(len(self.values), np.int64)
        for start, end in self.windows:
            labels[start : end + 1] = 1
        return labels

    def slice(self, start: int, stop: int | None = None) -> TimeSeries:
        """Points ``start:stop`` with the windows cut to them (indices shifted)."""
        stop = len(self.values) if stop is None else stop
        windows = [
            (max(a, start) - start, min(b, stop - 1) - start)
            for a, b in self.windows
            if b >= start and a < stop
        ]
        stamps = None if self.timestamps is None else self.timestamps[start:stop]
        return TimeSeries(
            self.values[start:stop], stamps, windows, f"{self.name}[{start}:{stop}]", self.labelled
        )


def as_float_array(values: Any, what: str = "input") -> np.ndarray:
    """Numbers -> float32 array; strings, None, NaN and infinities are a ValueError."""
    try:
        array = np.asarray(values, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{what} is not numeric: {error}") from None
    if array.size == 0:
        raise ValueError(f"{what} is empty")
    bad = ~np.isfinite(array)
    if bad.any():
        where = np.argwhere(bad)[0].tolist()
        raise ValueError(f"{what} holds NaN or infinite samples (first at index {where})")
    return array


def _open_text(path: Path) -> io.TextIOBase:
    if not path.is_file():
        raise ValueError(f"no such file: {path}")
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path), encoding="utf-8")
    return open(path, encoding="utf-8")  # noqa: SIM115 - returned to a with block


def read_ucr(path: str | os.PathLike, normal_classes: Sequence[int] = (1,)) -> SignalSet:
    """UCR text (``.txt`` / ``.tsv`` / ``.gz``): per line a class label, then the samples,
    separated by whitespace or commas. Classes in ``normal_classes`` are normal (label 0)."""
    path = Path(path)
    rows = []
    with _open_text(path) as handle:
        for number, line in enumerate(handle, 1):
            parts = line.replace(",", " ").split()
            if not parts:
                continue
            try:
                rows.append([float(p) for p in parts])
            except ValueError:
                bad = next(p for p in parts if not _is_float(p))
                raise ValueError(f"{path}:{number}: {bad!r} is not a number") from None
    if not rows:
        raise ValueError(f"{path} holds no samples")
    lengths = {len(r) for r in rows}
    if len(lengths) != 1:
        raise ValueError(f"{path}: rows have different lengths {sorted(lengths)}")
    table = np.asarray(rows)
    samples = as_float_array(table[:, 1:], f"{path} samples")
    classes = table[:, 0].astype(np.int64)
    labels = (~np.isin(classes, list(normal_classes))).astype(np.int64)
    return SignalSet(samples, labels, classes)


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_timestamp_csv(
    path: str | os.PathLike,
    value_column: str = "value",
    timestamp_column: str = "timestamp",
    label_column: str | None = None,
) -> TimeSeries:
    """A CSV with a timestamp column and a numeric value column (optional 0/1 label column,
    turned into windows of consecutive labelled points)."""
    path = Path(path)
    with _open_text(path) as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        for column in (timestamp_column, value_column, label_column):
            if column is not None and column not in columns:
                raise ValueError(f"{path} has no {column!r} column (columns: {columns})")
        stamps, values, labels = [], [], []
        for number, row in enumerate(reader, 2):
            text = (row[value_column] or "").strip()
            if not _is_float(text):
                raise ValueError(f"{path}:{number}: {value_column} {text!r} is not a number")
            values.append(float(text))
            stamps.append(row[timestamp_column])
            if label_column is not None:
                labels.append(int(float(row[label_column] or 0)))
    array = as_float_array(values, f"{path} {value_column}")
    stamp_array = _parse_timestamps(stamps, path)
    windows = runs(np.asarray(labels) > 0) if label_column is not None else []
    return TimeSeries(
        array, stamp_array, windows, path.name.split(".")[0], label_column is not None
    )


def _parse_timestamps(stamps: list[str], path: Path) -> np.ndarray:
    try:
        parsed = np.array(stamps, dtype="datetime64[s]")
    except ValueError as error:
        raise ValueError(f"{path}: unreadable timestamp ({error})") from None
    return parsed  # kept in file order: real logs (NAB's included) can step back in time


def read_nab(path: str | os.PathLike, windows_file: str | os.PathLike | None = None) -> TimeSeries:
    """A NAB series (``timestamp,value`` CSV, maybe gzipped) with its labelled windows from
    NAB's ``combined_windows.json`` (found as ``<nab root>/labels/combined_windows.json`` when
    not given). The key is ``<folder>/<name>.csv``, as in NAB."""
    path = Path(path)
    series = read_timestamp_csv(path)
    key = f"{path.parent.name}/{path.name.removesuffix('.gz')}"
    if windows_file is None:
        candidate = path.parent.parent / "labels" / "combined_windows.json"
        windows_file = candidate if candidate.is_file() else None
    series.name = key.removesuffix(".csv")
    if windows_file is None:
        series.labelled = False
        return series
    table = json.loads(Path(windows_file).read_text())
    if key not in table:
        raise ValueError(f"{windows_file} has no windows for {key}")
    series.labelled = True
    series.windows = [index_window(series.timestamps, start, end) for start, end in table[key]]
    return series


def index_window(timestamps: Any, start: str, end: str) -> tuple[int, int]:
    """A window given as two timestamps -> the inclusive index pair spanning the points inside
    it (no ordering assumed)."""
    stamps = np.asarray(timestamps, "datetime64[s]")
    inside = np.flatnonzero(
        (stamps >= np.datetime64(start[:19])) & (stamps <= np.datetime64(end[:19]))
    )
    if not len(inside):
        raise ValueError(f"no point lies in the labelled window {start} .. {end}")
    return int(inside[0]), int(inside[-1])


def runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive ``(start, end)`` index pairs of the runs of True in a 1-D boolean array."""
    flags = np.asarray(flags, bool).ravel()
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    return [(int(a), int(b)) for a, b in zip(starts, ends, strict=True)]


def load_signals(path: str | os.PathLike, **options: Any) -> SignalSet | TimeSeries:
    """A file by its kind: ``.npy`` (2-D: samples, 1-D: one series), ``.csv`` (a timestamp
    series; NAB windows when beside NAB labels), anything else UCR text."""
    path = Path(path)
    name = path.name.removesuffix(".gz")
    if name.endswith(".npy"):
        if not path.is_file():
            raise ValueError(f"no such file: {path}")
        array = as_float_array(np.load(path, allow_pickle=False), str(path))
        if array.ndim == 1:
            return TimeSeries(array, name=path.stem, labelled=False)
        if array.ndim == 2:
            return SignalSet(array)
        raise ValueError(f"{path}: expected a 1-D series or 2-D samples, got shape {array.shape}")
    if name.endswith(".csv"):
        nab_labels = path.parent.parent / "labels" / "combined_windows.json"
        if nab_labels.is_file() and not options:
            return read_nab(path, nab_labels)
        return read_timestamp_csv(path, **options)
    return read_ucr(path, **options)


# ---------------------------------------------------------------------------- synthetic
def synthetic_beats(
    count: int, length: int = 64, anomaly_fraction: float = 0.3, seed: int = 0
) -> SignalSet:
    """Heartbeat-like samples (two Gaussian bumps on noise); anomalies have a missing or
    inverted bump, or a spike — learnable in seconds, for tests and the demo."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, length)
    samples = np.empty((count, length), np.float32)
    labels = (rng.random(count) < anomaly_fraction).astype(np.int64)
    for i in range(count):
        shift = rng.normal(0, 0.01)
        beat = 2.0 * np.exp(-(((t - 0.3 - shift) / 0.04) ** 2))
        wave = 0.6 * np.exp(-(((t - 0.65 - shift) / 0.08) ** 2))
        if labels[i]:
            kind = rng.integers(3)
            if kind == 0:
                wave = -wave * 2
            elif kind == 1:
                beat = 0.3 * beat
            else:
                beat = beat + 1.5 * np.exp(-(((t - rng.uniform(0.45, 0.9)) / 0.01) ** 2))
        samples[i] = beat + wave + rng.normal(0, 0.05, length)
    return SignalSet(samples, labels)


def synthetic_series(
    length: int = 2000, period: int = 50, anomalies: int = 3, seed: int = 0, start: int = 0
) -> TimeSeries:
    """A noisy sine with ``anomalies`` injected events after ``start`` (spikes, level shifts,
    flat stretches), labelled as windows."""
    rng = np.random.default_rng(seed)
    values = np.sin(2 * np.pi * np.arange(length) / period) + rng.normal(0, 0.1, length)
    windows = []
    slots = np.linspace(start, length, anomalies + 1).astype(int)
    for i in range(anomalies):
        width = period // 2
        begin = int(rng.integers(slots[i] + width, max(slots[i] + width + 1, slots[i + 1] - width)))
        end = min(begin + width, length - 1)
        kind = i % 3
        if kind == 0:
            values[begin : end + 1] += 3.0
        elif kind == 1:
            values[begin : end + 1] = values[begin]
        else:
            values[begin : end + 1] *= -1.5
        windows.append((begin, end))
    return TimeSeries(values.astype(np.float32), None, windows, f"synthetic{seed}")
