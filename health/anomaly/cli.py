"""``dlsuite health anomaly train|evaluate|predict|export``: anomaly detection on signals.

Data: UCR text files (label, then samples; ``.txt`` / ``.tsv`` / ``.gz``), ``.npy`` arrays,
CSV series with a ``timestamp`` and a ``value`` column (NAB files pick up their labelled
windows from NAB's ``labels/combined_windows.json``), or ``builtin:beats`` /
``builtin:series`` (synthetic, generated in code). ``predict --plot-dir`` draws each series
with its scores and detected windows. TensorFlow is imported only when a command runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from common import task_cli as cli
from common.task_cli_spec import TaskCommands, TrainCommand

DETECTOR = "health.anomaly.task:SignalAnomalyDetector"
BUILTINS = ("beats", "series")
DATA_HELP = (
    "UCR text (class label then samples per line; --normal-classes are normal), a .npy array "
    "(2-D samples or a 1-D series), a timestamp,value CSV (NAB windows are read when beside "
    "NAB's labels), builtin:beats (fixed-length samples) or builtin:series (a long series; "
    "set --window)"
)
#: The window a built-in series uses when --window is not given.
BUILTIN_WINDOW = 32


def anomaly_data(spec: str, part: str, normal_classes: list[int] | None = None) -> Any:
    """``--data`` -> what ``SignalAnomalyDetector.fit`` / ``evaluate`` take."""
    from health.anomaly import data

    parsed = cli.parse_data_spec(spec, BUILTINS)
    seed = {"train": 0, "val": 1}.get(part, 2)
    if parsed.kind == "builtin":
        if parsed.name == "beats":
            return data.synthetic_beats(240 if part == "train" else 120, 64, 0.25, seed=seed)
        return data.synthetic_series(2000, 50, 1 if part == "train" else 4, seed=seed)
    if parsed.kind != "path" or not parsed.path.is_file():
        raise cli.UsageError(f"data {spec!r} is not a file ({DATA_HELP})")
    name = parsed.path.name.removesuffix(".gz")
    if normal_classes and not name.endswith((".csv", ".npy")):
        return data.read_ucr(parsed.path, normal_classes)
    return data.load_signals(parsed.path)


def _normal_classes(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--normal-classes",
        default="1",
        help="UCR class labels that are normal, comma-separated (the others are anomalies)",
    )


def _classes(args: argparse.Namespace) -> list[int]:
    return [int(c) for c in cli.split_list(args.normal_classes)]


def _train(args: argparse.Namespace) -> int:
    from health.anomaly.task import SignalAnomalyDetector

    output = cli.start_training(args)
    data, val = cli.load_train_val(
        args, lambda spec, part: anomaly_data(spec, part, _classes(args))
    )
    options = cli.config_options(args, SignalAnomalyDetector.config_class)
    if args.data == "builtin:series":
        options.setdefault("window", BUILTIN_WINDOW)
    task = SignalAnomalyDetector(**options)
    summary = "validation ROC-AUC {roc_auc:.4f}, F1 {f1:.3f} at threshold {threshold:.4g}"
    return cli.finish_training(task, args, output, data, val, summary if _labelled(val) else None)


def _labelled(data: Any) -> bool:
    """Whether ``data`` has anomaly labels (evaluate needs them for the summary)."""
    if data is None:
        return False
    if hasattr(data, "labelled"):
        return bool(data.labelled)
    return getattr(data, "labels", None) is not None


def _evaluate_data(args: argparse.Namespace, task: Any) -> Any:
    return anomaly_data(args.data, args.part, _classes(args))


def _describe(path: str, result: dict[str, Any]) -> str:
    import numpy as np

    flags = np.atleast_1d(result["is_anomaly"])
    if "events" in result:
        spans = ", ".join(f"{a}-{b}" for a, b in result["events"][:10])
        more = " ..." if len(result["events"]) > 10 else ""
        return (
            f"{Path(path).name}: {len(flags)} points, {len(result['events'])} events {spans}{more}"
        )
    return f"{Path(path).name}: {int(flags.sum())} of {len(flags)} anomalous"


def _plot_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plot-dir", help="write <input>_anomaly.png per series input here")


def _plots(args: argparse.Namespace, task: Any, inputs: list[Any], results: list[Any]) -> None:
    if not args.plot_dir:
        return
    from health.anomaly.data import TimeSeries, load_signals
    from health.anomaly.plots import plot_series_scores

    for path, result in zip(inputs, results, strict=True):
        if "events" not in result:
            continue
        series = load_signals(path)
        if not isinstance(series, TimeSeries):
            continue
        target = Path(args.plot_dir) / f"{Path(path).name.split('.')[0]}_anomaly.png"
        plot_series_scores(
            series.values,
            result["score"],
            task.threshold,
            target,
            labelled=series.windows,
            detected=result["events"],
            title=Path(path).name,
        )
        print(f"wrote {target}")


ANOMALY = TaskCommands(
    "anomaly",
    "anomaly detection on signals and time series (autoencoders)",
    DETECTOR,
    noun="detector",
    train=TrainCommand(
        _train,
        DATA_HELP,
        epochs=30,
        data_dir=False,
        options=_normal_classes,
        config_help={
            "window": "0: score whole fixed-length samples; N: cut long series into N-point "
            "windows",
            "filters": "conv encoder widths",
        },
        choices={
            "architecture": "health.anomaly.model:ARCHITECTURES",
            "threshold_method": "health.anomaly.task:THRESHOLD_METHODS",
            "point_score": "health.anomaly.task:POINT_SCORES",
        },
    ),
    evaluate={
        "resolve": _evaluate_data,
        "help": "ROC-AUC, PR-AUC, F1 at the stored threshold (and window detection for series)",
        "details": ("per_series",),
        "part_help": "part of a built-in set",
        "options": _normal_classes,
        "parts": ("val", "train", "test"),
    },
    predict={
        "help": "score signal files (per sample, or per point of a series)",
        "describe": _describe,
        "inputs_help": "UCR text, .npy or timestamp,value CSV files",
        "input_key": "path",
        "options": _plot_option,
        "after": _plots,
    },
    export={"example": "models/health_anomaly"},
)


def register(tasks: Any) -> None:
    """Add ``anomaly`` and its actions to the ``dlsuite health`` task group."""
    from common.task_cli_spec import add_task_commands

    add_task_commands(tasks, ANOMALY)
