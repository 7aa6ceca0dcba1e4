"""``python -m bench [NAME ...]``: run every benchmark module in ``bench/`` (or the named ones).

A benchmark is any ``bench/<name>.py`` (not starting with ``_``) that exposes ``main(argv)``;
each runs with its default arguments, one after another, so timings never overlap. A module that
cannot run with its defaults (a staged run with subcommands, a script for another machine) says
``RUN_BY_MAKE_BENCH = False`` and is left out; it runs on its own as its docstring shows.
"""

from __future__ import annotations

import importlib
import sys
import time
import traceback
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent


def discover() -> list[str]:
    """Names of the benchmark modules in ``bench/`` that define ``main`` and run with their
    defaults, sorted."""
    names = []
    for path in sorted(BENCH_DIR.glob("*.py")):
        if path.stem.startswith("_"):
            continue
        text = path.read_text(encoding="utf-8")
        if "def main(" in text and "\nRUN_BY_MAKE_BENCH = False" not in text:
            names.append(path.stem)
    return names


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(arg in ("-h", "--help") for arg in argv):
        print(__doc__.strip())
        print("available:", ", ".join(discover()) or "(none)")
        return 0
    available = discover()
    unknown = sorted(set(argv) - set(available))
    if unknown:
        print(
            f"unknown benchmark(s) {', '.join(unknown)}; available: {', '.join(available)}",
            file=sys.stderr,
        )
        return 2
    failed = []
    for name in argv or available:
        print(f"=== bench.{name} ===", flush=True)
        start = time.perf_counter()
        try:
            importlib.import_module(f"bench.{name}").main([])
        except SystemExit as stop:  # argparse errors or an explicit sys.exit in a benchmark
            if stop.code not in (0, None):
                failed.append(name)
        except Exception:  # one broken benchmark must not hide the others' results
            traceback.print_exc()
            failed.append(name)
        print(f"=== bench.{name}: {time.perf_counter() - start:.0f} s ===", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
