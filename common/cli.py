"""The ``dlsuite`` command: domain sub-commands, ``serve`` and ``demo``.

Domains plug in through entry points (group ``dlsuite.cli``: ``register(subparsers)``; group
``dlsuite.demos``: ``demo(models_dir, reports_dir) -> DemoResult``), so ``common`` never
imports a domain package. A domain is imported only when its command is parsed, so
``dlsuite --help`` stays fast and free of TensorFlow (whose start-up logs are silenced unless
``TF_CPP_MIN_LOG_LEVEL`` is set). A user mistake ends in one clear sentence and exit code 2.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before anything can import TensorFlow

import argparse  # noqa: E402
import ast  # noqa: E402
import importlib.util  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from importlib.metadata import PackageNotFoundError, entry_points, version  # noqa: E402
from pathlib import Path  # noqa: E402

from common.demo import DemoResult, print_table  # noqa: E402
from common.task_cli import (  # noqa: E402
    CommandParser,
    UsageError,
    import_tensorflow_quietly,
    quiet_native_logs,
)

USER_ERRORS = (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError, KeyError)

__all__ = ["USER_ERRORS", "UsageError", "build_parser", "console", "main", "run_demo"]


def _plugins(group: str) -> list:
    return sorted(entry_points(group=group), key=lambda ep: ep.name)


def _summary(plugin: object) -> str:
    """A domain's one-line help: its CLI module's ``SUMMARY``, read without importing it.

    Importing a domain's CLI imports its package, and the domain packages import TensorFlow.
    """
    module = plugin.value.partition(":")[0]  # type: ignore[attr-defined]
    fallback = f"{plugin.name} commands"  # type: ignore[attr-defined]
    top, _, rest = module.partition(".")
    try:
        spec = importlib.util.find_spec(top)  # a top-level name: finds without importing
    except (ImportError, ValueError):
        return fallback
    if spec is None or spec.origin is None or not rest:
        return fallback
    source = Path(spec.origin).parent.joinpath(*rest.split(".")).with_suffix(".py")
    try:
        tree = ast.parse(source.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return fallback
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "SUMMARY" for t in node.targets)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            return node.value.value
    return fallback


def _domain_builder(plugin: object, prog: str):
    """Build a domain's parser on demand: its ``register`` fills a scratch sub-parser set."""

    def build(placeholder: CommandParser) -> argparse.ArgumentParser:
        scratch = CommandParser(prog=prog, add_help=False)
        commands = scratch.add_subparsers(dest="command")
        with quiet_native_logs():  # domain packages import TensorFlow
            plugin.load()(commands)  # type: ignore[attr-defined]
        name = plugin.name  # type: ignore[attr-defined]
        if name not in commands.choices:
            raise UsageError(f"the {name} plugin did not register a {name!r} command")
        return commands.choices[name]

    return build


def _serve_builder(parser: CommandParser) -> None:
    from serving.cli import add_arguments

    add_arguments(parser)


def _run_serve(args: argparse.Namespace) -> int:
    from serving.cli import run

    return run(args)


def _version() -> str:
    try:
        return version("dlsuite")
    except PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    """The ``dlsuite`` parser; domain commands are built when they are used."""
    parser = CommandParser(
        prog="dlsuite",
        description="Train, evaluate, export and serve deep-learning models for vision, NLP, "
        "speech, medical imaging and driving.",
    )
    parser.add_argument("--version", action="version", version=f"dlsuite {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for plugin in _plugins("dlsuite.cli"):
        commands.add_parser(
            plugin.name, help=_summary(plugin), builder=_domain_builder(plugin, parser.prog)
        )
    demo = commands.add_parser(
        "demo", help="run every domain's quick pipeline and print a results table"
    )
    demo.add_argument("--models-dir", default="models", help="where exports go")
    demo.add_argument("--reports-dir", default="reports", help="where plots go")
    demo.add_argument("--only", nargs="*", metavar="DOMAIN", help="run only these domains")
    demo.add_argument("--no-serve", action="store_true", help="skip the serving round trip")
    demo.set_defaults(func=run_demo)
    if importlib.util.find_spec("serving") is not None:  # absent from a build without it
        serve = commands.add_parser(
            "serve",
            help="serve exported models with a TF-Serving-compatible API",
            builder=_serve_builder,
        )
        serve.set_defaults(func=_run_serve)
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
        import_tensorflow_quietly()  # commands import it anyway; this hides its start-up lines
        return int(args.func(args) or 0)
    except USER_ERRORS as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"dlsuite: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dlsuite: interrupted", file=sys.stderr)
        return 130


def console() -> None:
    """The console script: ``sys.exit(main())``."""
    sys.exit(main())
