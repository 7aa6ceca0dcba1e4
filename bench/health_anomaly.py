"""Anomaly detection benchmark: ECG5000 heartbeats and NAB series, dlsuite's autoencoders
(``health.SignalAnomalyDetector``, conv and LSTM) against an isolation forest (scikit-learn)
and a z-score detector (NumPy) on the same splits.

    python -m bench.health_anomaly [--data ../shared/data] [--seeds 0,1,2] [--quick]

ECG5000 (``<data>/ecg5000/ECG5000_TRAIN_400.txt.gz``, 400 beats, class 1 normal, others
abnormal): each seed makes its own stratified split, 40 % train / 20 % validation / 40 % test.
Every detector trains on the normal beats of the train part only, takes its threshold on the
validation part (best F1, ``score > threshold``) and is scored on the test part, whose abnormal
beats no detector has seen. Numbers are the mean (and min / max) over the seeds.

NAB (``<data>/nab/``): per series, the stretch before the first labelled window (less one
window of context) is cut 70 / 30 into train and validation (threshold: 99th percentile of the
validation point scores, all detectors alike); the test part is the rest of the series, all
labelled windows included. Scores are per point (a window's error averaged over the windows
covering each point); metrics: point ROC-AUC / PR-AUC (labels: inside a window), F1 at the
threshold, NAB-style windows detected and false-alarm events.

dlsuite rows are scored through the exported SavedModel on the raw test values (loaded with
``tf.saved_model.load``), with the largest score difference from the Python path. Targets:
ECG5000 ROC-AUC >= 0.97, and dlsuite above both baselines on ECG5000 and on the NAB series.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench._harness import (  # noqa: E402
    DATA_ROOT,
    RESULTS_DIR,
    bench_parser,
    load_average,
    write_rows,
)
from health.anomaly.data import SignalSet, TimeSeries, read_nab, read_ucr, runs  # noqa: E402
from health.anomaly.metrics import best_f1_threshold, detection_report  # noqa: E402
from health.anomaly.windows import frames, to_points, window_detection  # noqa: E402

TARGETS = {"ecg_dlsuite_conv_roc_auc_mean": 0.97}
ECG_CONFIGS: dict[str, dict[str, Any]] = {
    "dlsuite_conv": {"architecture": "conv", "filters": [32, 16], "latent_dim": 16, "dropout": 0.1},
    "dlsuite_lstm": {"architecture": "lstm", "lstm_units": 64, "dropout": 0.0},
}
COMMON = {"learning_rate": 2e-3, "batch_size": 16, "threshold_method": "best_f1"}
#: series -> window, stride: one day per window (5-minute data: 288 points every hour; NYC
#: taxi, 30-minute data: 48 every 2 hours), so a window sees the whole daily cycle (8-hour
#: windows missed art_daily_flatmiddle's flat day: parts of a normal day are flat too)
NAB_SERIES = {
    "artificialWithAnomaly/art_daily_jumpsup": (288, 12),
    "artificialWithAnomaly/art_daily_flatmiddle": (288, 12),
    "realKnownCause/machine_temperature_system_failure": (288, 12),
    "realKnownCause/nyc_taxi": (48, 4),
    "realKnownCause/cpu_utilization_asg_misconfiguration": (288, 12),
}
PLOT_SERIES = "realKnownCause/machine_temperature_system_failure"


# ----------------------------------------------------------------------------- baselines
def zscore_samples(train: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Per-time-step mean / std of the normal training samples; score = mean squared z."""
    mean, std = train.mean(0), train.std(0) + 1e-6
    return lambda x: np.mean(((x - mean) / std) ** 2, axis=1)


def iforest(train: np.ndarray, seed: int) -> Callable[[np.ndarray], np.ndarray]:
    """Isolation forest on the normal training samples / windows; score = -score_samples."""
    from sklearn.ensemble import IsolationForest

    forest = IsolationForest(n_estimators=200, random_state=seed).fit(train)
    return lambda x: -forest.score_samples(x)


def export_scores(task: Any, series: np.ndarray) -> np.ndarray:
    """Scores from the exported SavedModel on raw float32 ``series`` ``[batch, n]``."""
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as tmp:
        path = task.export(Path(tmp) / "model")
        served = tf.saved_model.load(str(path)).signatures["serving_default"]
        return served(series=tf.constant(series, tf.float32))["score"].numpy()


# ----------------------------------------------------------------------------- ECG5000
def ecg_split(data: SignalSet, seed: int) -> tuple[SignalSet, SignalSet, SignalSet]:
    from sklearn.model_selection import train_test_split

    index, labels = np.arange(len(data)), data.labels
    assert labels is not None, "the ECG split needs labels"
    train, rest = train_test_split(index, train_size=0.4, stratify=labels, random_state=seed)
    val, test = train_test_split(rest, train_size=1 / 3, stratify=labels[rest], random_state=seed)
    return data.subset(train), data.subset(val), data.subset(test)


def ecg_seed(data: SignalSet, seed: int, epochs: int) -> dict[str, dict[str, Any]]:
    from health.anomaly.task import SignalAnomalyDetector

    train, val, test = ecg_split(data, seed)
    assert train.labels is not None and val.labels is not None and test.labels is not None
    normal = train.samples[train.labels == 0]
    results: dict[str, dict[str, Any]] = {}
    for name, config in ECG_CONFIGS.items():
        start = time.perf_counter()
        task = SignalAnomalyDetector(**COMMON, **config, seed=seed)
        task.fit(train, validation_data=val, epochs=epochs, verbose=0)
        seconds = time.perf_counter() - start
        python = task.scores_and_labels(test)[0]
        served = export_scores(task, test.samples)
        report = detection_report(served, test.labels, task.threshold)
        report["export_vs_python_max_abs"] = float(np.max(np.abs(served - python)))
        report["train_seconds"] = seconds
        results[name] = report
        print(f"ECG seed {seed} {name}: ROC-AUC {report['roc_auc']:.4f}", flush=True)
    for name, make in (
        ("isolation_forest", lambda: iforest(normal, seed)),
        ("zscore", lambda: zscore_samples(normal)),
    ):
        score = make()
        threshold = best_f1_threshold(score(val.samples), val.labels)
        results[name] = detection_report(score(test.samples), test.labels, threshold)
    return results


def ecg_rows(data_root: Path, seeds: list[int], epochs: int) -> list[dict[str, Any]]:
    data = read_ucr(data_root / "ecg5000" / "ECG5000_TRAIN_400.txt.gz")
    per_seed = [ecg_seed(data, seed, epochs) for seed in seeds]
    rows = []
    for name in per_seed[0]:
        row: dict[str, Any] = {
            "dataset": "ECG5000 (400 beats: 40/20/40 stratified train/val/test per seed)",
            "model": name,
            "input": "raw test beats; dlsuite through the exported SavedModel"
            if name.startswith("dlsuite")
            else "raw test beats",
            "seeds": seeds,
            "train_normal_beats": int(np.sum(ecg_split(data, seeds[0])[0].labels == 0)),
        }
        for key in ("roc_auc", "pr_auc", "f1", "precision", "recall"):
            values = [r[name][key] for r in per_seed]
            row[f"{key}_mean"] = float(np.mean(values))
            row[f"{key}_min"], row[f"{key}_max"] = float(np.min(values)), float(np.max(values))
        if name.startswith("dlsuite"):
            row["config"] = {**COMMON, **ECG_CONFIGS[name], "epochs": epochs}
            row["export_vs_python_max_abs"] = max(
                r[name]["export_vs_python_max_abs"] for r in per_seed
            )
            row["train_seconds_mean"] = float(np.mean([r[name]["train_seconds"] for r in per_seed]))
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------- NAB
def nab_split(series: TimeSeries, window: int) -> tuple[TimeSeries, TimeSeries, TimeSeries]:
    first = series.windows[0][0]
    cut = first - window
    boundary = int(0.7 * cut)
    return series.slice(0, boundary), series.slice(boundary, cut), series.slice(cut)


def point_report(scores: np.ndarray, test: TimeSeries, threshold: float) -> dict[str, Any]:
    report = detection_report(scores, test.point_labels, threshold)
    report.update(window_detection(scores > np.float32(threshold), test.windows))
    return report


def nab_series_rows(
    data_root: Path,
    key: str,
    window: int,
    stride: int,
    epochs: int,
    archs: list[str],
    plot_dir: Path | None,
) -> list[dict[str, Any]]:
    from health.anomaly.plots import plot_series_scores
    from health.anomaly.task import SignalAnomalyDetector

    folder, name = key.split("/")
    series = read_nab(data_root / "nab" / folder / f"{name}.csv.gz")
    train, val, test = nab_split(series, window)
    base = {
        "dataset": f"NAB {key}",
        "split_points": {
            "train": len(train.values),
            "val": len(val.values),
            "test": len(test.values),
        },
        "window": window,
        "stride": stride,
    }
    rows = []
    for arch in archs:
        config = {
            "architecture": arch,
            "window": window,
            "stride": stride,
            "threshold_method": "percentile",
            "threshold_percentile": 99.0,
            "learning_rate": 2e-3,
            "batch_size": 32,
            "lstm_units": 32,
        }
        start = time.perf_counter()
        task = SignalAnomalyDetector(**config)
        task.fit(train, validation_data=val, epochs=epochs, verbose=0)
        seconds = time.perf_counter() - start
        served = export_scores(task, test.values[None])[0]
        python = task.scores_and_labels([test])[0]
        report = point_report(served, test, task.threshold)
        rows.append(
            {
                **base,
                "model": f"dlsuite_{arch}",
                "input": "raw test stretch through the exported SavedModel",
                **report,
                "export_vs_python_max_abs": float(np.max(np.abs(served - python))),
                "train_seconds": seconds,
                "config": {**config, "epochs": epochs},
            }
        )
        print(f"{key} dlsuite_{arch}: ROC-AUC {report['roc_auc']:.4f}", flush=True)
        if plot_dir is not None and key == PLOT_SERIES and arch == "conv":
            flags = served > np.float32(task.threshold)
            path = plot_series_scores(
                test.values,
                served,
                task.threshold,
                plot_dir / "health_anomaly_nab.png",
                labelled=test.windows,
                detected=runs(flags),
                title=f"{key} (test stretch): dlsuite conv autoencoder",
            )
            print(f"wrote {path}")
    mean, std = float(train.values.mean()), float(train.values.std()) or 1.0
    normal_windows = frames((train.values - mean) / std, window, stride)
    forest = iforest(normal_windows, 0)

    def forest_points(part: TimeSeries) -> np.ndarray:
        cut = frames((part.values - mean) / std, window, stride)
        per_window = np.repeat(forest(cut)[:, None], window, axis=1)
        return to_points(per_window, len(part.values), stride)

    def zscore_points(part: TimeSeries) -> np.ndarray:
        return np.abs(part.values - mean) / std

    for model, score in (("isolation_forest", forest_points), ("zscore", zscore_points)):
        threshold = float(np.percentile(score(val), 99.0))
        rows.append(
            {
                **base,
                "model": model,
                "input": "raw test stretch",
                **point_report(score(test), test, threshold),
            }
        )
    return rows


# ----------------------------------------------------------------------------- table
def print_table(rows: list[dict[str, Any]]) -> None:
    print(
        f"{'dataset':58s} {'model':17s} {'ROC-AUC':>8s} {'PR-AUC':>7s} {'F1':>6s} "
        f"{'windows':>8s} {'false':>6s}"
    )
    for r in rows:
        auc = r.get("roc_auc_mean", r.get("roc_auc"))
        pr = r.get("pr_auc_mean", r.get("pr_auc"))
        f1 = r.get("f1_mean", r.get("f1"))
        windows = f"{r['windows_detected']}/{r['windows']}" if "windows" in r else ""
        false = str(r.get("false_alarm_events", ""))
        print(
            f"{r['dataset'][:58]:58s} {r['model']:17s} {auc:8.4f} {pr:7.4f} {f1:6.3f} "
            f"{windows:>8s} {false:>6s}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--data", type=Path, default=DATA_ROOT, help="the shared data folder")
    parser.add_argument("--seeds", default="0,1,2", help="ECG split / training seeds")
    parser.add_argument("--quick", action="store_true", help="one seed, few epochs, conv only")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "health_anomaly.json")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")][: 1 if args.quick else None]
    ecg_epochs, nab_epochs = (20, 5) if args.quick else (100, 30)
    if args.quick:
        ECG_CONFIGS.pop("dlsuite_lstm", None)
    start = time.perf_counter()
    rows = ecg_rows(args.data, seeds, ecg_epochs)
    archs = ["conv"] if args.quick else ["conv", "lstm"]
    plot_dir = None if args.quick else RESULTS_DIR
    for key, (window, stride) in NAB_SERIES.items():
        rows += nab_series_rows(args.data, key, window, stride, nab_epochs, archs, plot_dir)
    for row in rows:
        row["load_average"] = load_average()
    print_table(rows)
    payload = write_rows(args.output, "health_anomaly", TARGETS, rows)
    payload["seconds"] = time.perf_counter() - start
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
