"""Shared assertions for ``evaluate(report_dir=...)`` tests of every task."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from common.plots import ReportExistsError
from common.task_cli_commands import jsonable

PNG = b"\x89PNG"


def check_report_files(
    report_dir: Path, report: dict[str, Any], pictures: Sequence[str] = ()
) -> None:
    """metrics.json is the returned report; per_class.csv / report.md list every class; each
    picture is a PNG."""
    assert json.loads((report_dir / "metrics.json").read_text()) == jsonable(report)
    table = (report_dir / "per_class.csv").read_text().splitlines()
    assert len(table) == 1 + len(report["per_class"])
    markdown = (report_dir / "report.md").read_text()
    assert all(f"| {name} |" in markdown for name in report["per_class"])
    for name in pictures:
        assert (report_dir / name).read_bytes()[:4] == PNG, name


def check_different_report_refused(report_dir: Path, evaluate: Callable[..., Any]) -> None:
    """A second, different evaluation into the same folder is refused and changes nothing."""
    before = {p.name: p.read_bytes() for p in report_dir.iterdir()}
    with pytest.raises(ReportExistsError, match="already holds a different report"):
        evaluate(report_dir=report_dir)
    assert {p.name: p.read_bytes() for p in report_dir.iterdir()} == before


def check_evaluation_report(
    task: Any, data: Any, other: Any, report_dir: Path, pictures: Sequence[str] = ()
) -> dict[str, Any]:
    """``task.evaluate(data, report_dir=...)`` writes its report files and ``pictures``; an
    evaluation of ``other`` data into the same folder is then refused. Returns the report."""
    report = task.evaluate(data, report_dir=report_dir)
    check_report_files(report_dir, report, pictures)
    check_different_report_refused(report_dir, partial(task.evaluate, other))
    return report
