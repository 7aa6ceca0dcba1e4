"""The ``dlsuite`` command: domain sub-commands, ``serve`` and ``demo``.

Domains plug in through entry points (group ``dlsuite.cli``: ``register(subparsers)``; group
``dlsuite.demos``: ``demo(models_dir, reports_dir) -> DemoResult``), so ``common`` never
imports a domain package. A user mistake ends in one clear sentence and exit code 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path

from common.demo import DemoResult, print_table

USER_ERRORS = (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError, KeyError)


class UsageError(ValueError):
    """A mistake in how a command was called (reported as one sentence, exit code 2)."""


def _plugins(group: str) -> list:
    return sorted(entry_points(group=group), key=lambda ep: ep.name)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dlsuite",
        description="Train, evaluate, export and serve deep-learning models for vision, NLP, "
        "speech, medical imaging and driving.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for plugin in _plugins("dlsuite.cli"):
        plugin.load()(commands)
    demo = commands.add_parser(
        "demo", help="run every domain's quick pipeline and print a results table"
    )
    demo.add_argument("--models-dir", default="models", help="where exports go (default: ./models)")
    demo.add_argument(
        "--reports-dir", default="reports", help="where plots go (default: ./reports)"
    )
    demo.add_argument("--only", nargs="*", metavar="DOMAIN", help="run only these domains")
    demo.add_argument("--no-serve", action="store_true", help="skip the serving round trip")
    demo.set_defaults(func=run_demo)
    try:
        from serving.cli import add_arguments as add_serve_arguments
        from serving.cli import run as run_serve
    except ImportError:  # serving package not installed in this build
        pass
    else:
        serve = commands.add_parser(
            "serve", help="serve exported models with a TF-Serving-compatible API"
        )
        add_serve_arguments(serve)
        serve.set_defaults(func=run_serve)
    return parser


def run_demo(args: argparse.Namespace) -> int:
    """Run each domain's quick pipeline, then (optionally) the serving round trip."""
    models_dir, reports_dir = Path(args.models_dir), Path(args.reports_dir)
    demos = [p for p in _plugins("dlsuite.demos") if not args.only or p.name in args.only]
    if args.only and not demos:
        known = ", ".join(p.name for p in _plugins("dlsuite.demos"))
        raise UsageError(f"no demo named {', '.join(args.only)}; known demos: {known}")
    results: list[DemoResult] = []
    started = time.perf_counter()
    for plugin in demos:
        print(f"\n=== dlsuite demo: {plugin.name} ===", flush=True)
        results.append(plugin.load()(models_dir=models_dir, reports_dir=reports_dir))
    for plugin, result in zip(demos, results, strict=True):  # one table per domain: own columns
        print_table(f"dlsuite demo results: {plugin.name}", result.rows)
    requests = {name: inputs for result in results for name, inputs in result.requests.items()}
    if requests and not args.no_serve:
        try:
            from serving.demo import roundtrip
        except ImportError:
            print("serving package unavailable: skipped the server round trip")
        else:
            served = roundtrip(models_dir, requests)
            print_table(
                "served by the embedded TF-Serving-compatible server",
                [
                    {k: row[k] for k in ("model", "protocol", "latency_ms")}
                    | {"answer": row.get("summary", "")}
                    for row in served
                ],
            )
    print(
        f"\ndemo finished in {time.perf_counter() - started:.0f} s; exports in {models_dir}/, "
        f"plots in {reports_dir}/"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dlsuite`` console script."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except USER_ERRORS as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"dlsuite: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dlsuite: interrupted", file=sys.stderr)
        return 130


def console() -> None:
    sys.exit(main())
