"""``python -m serving MODEL_BASE ...``: the same as ``dlsuite serve``."""

from __future__ import annotations

import argparse
import sys

from serving.cli import add_arguments, run


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and serve."""
    parser = argparse.ArgumentParser(prog="python -m serving")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
