"""Generic ``evaluate`` / ``predict`` / ``export`` commands for any task class, and its loading.

A task is named by reference (``"vision.classification:ImageClassifier"``) and imported only
when a command runs, so building the parsers stays free of TensorFlow. ``--json`` means the same
everywhere: ``predict`` prints one JSON line per input (every field of the result), and
``evaluate`` prints the full report (per-class tables included) instead of the summary.
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from common.task_cli import UsageError, add_tfds_options, apply_download_option, import_object

Options = Callable[[argparse.ArgumentParser], None]
Kwargs = Callable[[argparse.Namespace], dict[str, Any]]


def _article(name: str) -> str:
    return "an" if name[:1].upper() in "AEIOU" else "a"


def load(path: str, task_ref: str | type) -> Any:
    """Load a saved task (or a ``DQNAgent``-like class with ``load``) and check its class."""
    cls = import_object(task_ref) if isinstance(task_ref, str) else task_ref
    from common.task import Task, load_task

    if isinstance(cls, type) and issubclass(cls, Task):
        task = load_task(path)
        if not isinstance(task, cls):
            raise UsageError(
                f"{path} holds {_article(type(task).__name__)} {type(task).__name__}, "
                f"not {_article(cls.__name__)} {cls.__name__}"
            )
        return task
    if not Path(path).is_file():
        raise UsageError(f"no such file: {path}")
    return cls.load(path)


def add_model_option(parser: argparse.ArgumentParser) -> None:
    """``--model PATH.keras`` (required)."""
    parser.add_argument("--model", required=True, help="a .keras file written by train")


def jsonable(value: Any) -> Any:
    """Plain JSON types from NumPy arrays / scalars, paths and non-finite floats (-> null)."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "tolist"):  # NumPy arrays and scalars
        return jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def print_json(value: Any, indent: int | None = 2) -> None:
    """Print ``value`` as JSON (NumPy values converted, Unicode kept)."""
    print(json.dumps(jsonable(value), indent=indent, ensure_ascii=False))


# --------------------------------------------------------------------------- export
def add_export_command(
    actions: Any,
    task_ref: str,
    *,
    example: str,
    help: str = "write a TF Serving SavedModel version",
    options: Options | None = None,
    export_kwargs: Kwargs | None = None,
) -> argparse.ArgumentParser:
    """``export --model M.keras --output DIR [--version N]``: ``task.export(DIR)``."""
    parser = actions.add_parser("export", help=help, description=help)
    add_model_option(parser)
    parser.add_argument(
        "--output",
        required=True,
        help=f"model base folder, e.g. {example}; each export adds a numbered version",
    )
    parser.add_argument("--version", type=int, help="version number (default: the next free one)")
    if options is not None:
        options(parser)
    parser.set_defaults(func=partial(_export, task_ref, export_kwargs))
    return parser


def _export(task_ref: str, export_kwargs: Kwargs | None, args: argparse.Namespace) -> int:
    task = load(args.model, task_ref)
    extra = export_kwargs(args) if export_kwargs else {}
    print(f"exported {task.export(args.output, version=args.version, **extra)}")
    return 0


# --------------------------------------------------------------------------- evaluate
def add_evaluate_command(
    actions: Any,
    task_ref: str,
    *,
    data_help: str,
    resolve: Callable[[argparse.Namespace, Any], Any],
    help: str,
    details: Sequence[str] = ("per_class", "confusion_matrix"),
    parts: Sequence[str] | None = ("val", "train"),
    part_help: str = "for built-in data: the validation or the training part",
    data_dir: bool = True,
    options: Options | None = None,
    evaluate_kwargs: Kwargs | None = None,
) -> argparse.ArgumentParser:
    """``evaluate --model M.keras --data SPEC [--part] [--report-dir DIR] [--json]``.

    ``resolve(args, task)`` turns ``--data`` into what ``task.evaluate`` takes. The report is
    printed as JSON (without the ``details`` keys unless ``--json``); ``--report-dir`` gets the
    task's pictures (when its ``evaluate`` takes ``report_dir``), ``metrics.json``,
    ``report.md`` and, for reports with per-class rows, ``per_class.csv``; a folder already
    holding a report is refused unless ``--overwrite``.
    """
    parser = actions.add_parser("evaluate", help=help, description=help)
    add_model_option(parser)
    parser.add_argument("--data", required=True, help=data_help)
    if parts:
        parser.add_argument("--part", choices=list(parts), default=parts[0], help=part_help)
    if data_dir:
        add_tfds_options(parser)
    parser.add_argument(
        "--report-dir",
        help="write metrics.json, per_class.csv, report.md and the task's plots here",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace a report already in --report-dir"
    )
    parser.add_argument(
        "--json", action="store_true", help="print the full report (per-class tables included)"
    )
    if options is not None:
        options(parser)
    parser.set_defaults(func=partial(_evaluate, task_ref, resolve, evaluate_kwargs, details))
    return parser


def _accepts(function: Callable[..., Any], name: str) -> bool:
    parameters = inspect.signature(function).parameters.values()
    return any(p.name == name or p.kind is p.VAR_KEYWORD for p in parameters)


def check_report_dir(report_dir: str | Path | None, overwrite: bool = False) -> None:
    """Refuse a ``--report-dir`` that already holds a report, unless ``overwrite``."""
    if report_dir is None or overwrite:
        return
    from common.plots import existing_report

    found = existing_report(report_dir)
    if found:
        names = ", ".join(path.name for path in found)
        raise UsageError(
            f"{report_dir} already holds a report ({names}); choose another --report-dir "
            "or pass --overwrite to replace it"
        )


def evaluate_report(
    task: Any,
    data: Any,
    report_dir: str | Path | None = None,
    overwrite: bool = False,
    **kwargs: Any,
) -> dict[str, Any]:
    """``task.evaluate`` plus the ``--report-dir`` files (``common.plots.write_report``).

    A folder already holding a report is refused before the evaluation runs (so its pictures
    are left alone too), unless ``overwrite``.
    """
    check_report_dir(report_dir, overwrite)
    if report_dir is not None and _accepts(task.evaluate, "report_dir"):
        kwargs["report_dir"] = report_dir  # the task writes this report and its pictures
        if _accepts(task.evaluate, "overwrite"):
            kwargs["overwrite"] = overwrite
    report = task.evaluate(data, **kwargs)
    if report_dir is not None:  # files the task wrote already are identical: left alone
        from common.plots import write_report

        write_report(report_dir, jsonable(report), overwrite=overwrite)
    return report


def _evaluate(
    task_ref: str,
    resolve: Callable[[argparse.Namespace, Any], Any],
    evaluate_kwargs: Kwargs | None,
    details: Sequence[str],
    args: argparse.Namespace,
) -> int:
    check_report_dir(args.report_dir, args.overwrite)  # before loading anything
    apply_download_option(args)
    task = load(args.model, task_ref)
    data = resolve(args, task)
    kwargs = evaluate_kwargs(args) if evaluate_kwargs else {}
    report = evaluate_report(task, data, args.report_dir, args.overwrite, **kwargs)
    if not args.json:
        report = {k: v for k, v in report.items() if k not in details}
    print_json(report)
    return 0


# --------------------------------------------------------------------------- predict
def add_predict_command(
    actions: Any,
    task_ref: str,
    *,
    help: str,
    describe: Callable[[Any, Mapping[str, Any]], str],
    inputs_help: str,
    name: str = "predict",
    aliases: Sequence[str] = (),
    input_key: str = "input",
    options: Options | None = None,
    predict: Callable[[Any, list[Any], argparse.Namespace], list[Any]] | None = None,
    after: Callable[[argparse.Namespace, Any, list[Any], list[Any]], None] | None = None,
) -> argparse.ArgumentParser:
    """``predict --model M.keras [--json] INPUT...``: ``task.predict([INPUT, ...])``.

    Prints ``describe(input, result)`` per input, or with ``--json`` one JSON object per line
    (``{input_key: input, **result}``). ``predict(task, inputs, args)`` replaces the plain call
    (for options such as ``--top-k``); ``after`` writes files (masks, drawings).
    """
    parser = actions.add_parser(name, aliases=list(aliases), help=help, description=help)
    add_model_option(parser)
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object per input (all result fields) instead of a readable line",
    )
    if options is not None:
        options(parser)
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help=inputs_help)
    parser.set_defaults(func=partial(_predict, task_ref, describe, input_key, predict, after))
    return parser


def _predict(
    task_ref: str,
    describe: Callable[[Any, Mapping[str, Any]], str],
    input_key: str,
    predict: Callable[[Any, list[Any], argparse.Namespace], list[Any]] | None,
    after: Callable[[argparse.Namespace, Any, list[Any], list[Any]], None] | None,
    args: argparse.Namespace,
) -> int:
    task = load(args.model, task_ref)
    inputs = list(args.inputs)
    results = predict(task, inputs, args) if predict else task.predict(inputs)
    if isinstance(results, Mapping):  # a task that still answers one input with one dict
        results = [results]
    for item, result in zip(inputs, results, strict=True):
        if args.json:
            print_json({input_key: item, **result}, indent=None)
        else:
            print(describe(item, result))
    if after is not None:
        after(args, task, inputs, results)
    return 0
