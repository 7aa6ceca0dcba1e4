"""Steps every domain's example pipelines (``*/pipelines.py``) share: timed training with its
curves, export + load back as TF Serving would, the demo loop and the ``python -m`` entry."""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from common.demo import DemoResult

#: ``pipeline(quick, models_dir, reports_dir) -> summary`` (a ``"request"`` key included).
Pipeline = Callable[..., dict[str, Any]]


def timed_fit(task: Any, reports_dir: str | os.PathLike, data: Any, **fit_options: Any) -> float:
    """``task.fit(data, **fit_options)``; the curves go to ``training_curves.png`` in
    ``reports_dir``. Returns the training time in seconds (one decimal)."""
    from common.plots import plot_history

    started = time.perf_counter()
    history = task.fit(data, **fit_options)
    seconds = time.perf_counter() - started
    plot_history(history.history, Path(reports_dir) / "training_curves.png")
    return round(seconds, 1)


def export_and_load(task: Any, base_dir: str | os.PathLike) -> tuple[Path, Callable[..., Any]]:
    """A new export version under ``base_dir`` and its ``serving_default`` loaded back (what TF
    Serving runs), to check the export answers like ``task.predict``."""
    import tensorflow as tf

    version_dir = task.export(base_dir)
    return version_dir, tf.saved_model.load(str(version_dir)).signatures["serving_default"]


def run_demo(
    pipelines: Mapping[str, Pipeline],
    models_dir: str | os.PathLike = "models",
    reports_dir: str | os.PathLike = "reports",
) -> DemoResult:
    """The quick version of each pipeline, keyed by its export folder (the served model name):
    summary rows for the table and one raw request per model."""
    result = DemoResult()
    for name, pipeline in pipelines.items():
        # Label the training lines that follow (Keras prints epochs without naming the task).
        print(f"\n--- {name}: {first_line(pipeline.__doc__)} ---", flush=True)
        summary = pipeline(quick=True, models_dir=models_dir, reports_dir=reports_dir)
        result.requests[name] = summary.pop("request")
        result.rows.append(summary)
    return result


def first_line(text: str | None) -> str:
    """The first line of a docstring (the pipeline's one-line description), or ``""``."""
    return (text or "").strip().split("\n", 1)[0].rstrip(".")


def pipelines_main(
    pipelines: Mapping[str, Pipeline], description: str | None, argv: list[str] | None = None
) -> None:
    """``python -m <domain>.pipelines NAME [--quick] [--models-dir] [--reports-dir]``: run one
    pipeline and print its summary."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("pipeline", choices=sorted(pipelines))
    parser.add_argument("--quick", action="store_true", help="small model, few epochs")
    parser.add_argument("--models-dir", default="models")
    parser.add_argument("--reports-dir", default="reports")
    args = parser.parse_args(argv)
    result = pipelines[args.pipeline](args.quick, args.models_dir, args.reports_dir)
    result.pop("request")
    for key, value in result.items():
        print(f"{key:>15}: {value}")


def agreement(served: Iterable[Any], expected: Sequence[Any]) -> float:
    """Share of positions where the served output (bytes read as UTF-8) equals the expected."""
    values = [v.decode("utf-8") if isinstance(v, bytes) else v for v in served]
    if len(values) != len(expected) or not values:
        raise ValueError(f"{len(values)} served outputs for {len(expected)} expected ones")
    return sum(a == b for a, b in zip(values, expected, strict=True)) / len(values)
