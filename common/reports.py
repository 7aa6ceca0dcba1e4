"""``evaluate(report_dir=...)`` plumbing shared by every task: report files, then pictures.

``write_evaluation_report`` writes ``metrics.json``, ``per_class.csv`` and ``report.md``
(``common.plots.write_report``) first, so a folder that already holds a *different* report is
refused (``ReportExistsError``) before any picture in it is touched; then it draws the pictures.
The report it writes is the one ``evaluate`` returns, picture paths included, so writing the
same report again (the CLI's ``--report-dir``) finds identical files and leaves them alone.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

#: A picture: draws itself into the PNG path it is given.
Draw = Callable[[Path], object]


def write_evaluation_report(
    report_dir: str | os.PathLike,
    report: dict[str, Any],
    pictures: Mapping[str, Draw] | None = None,
    *,
    confusion_classes: Sequence[str] | None = None,
    per_class: Mapping[str, Mapping[str, Any]] | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Write ``report``'s files into ``report_dir``, then draw ``pictures`` (file name -> draw).

    With ``confusion_classes`` the report's ``confusion_matrix`` is drawn too, as
    ``confusion_matrix.png``, and its path recorded as ``report["confusion_matrix_png"]``.
    ``per_class`` defaults to ``report["per_class"]``. Returns ``report``.
    """
    from common.plots import plot_confusion_matrix, write_report

    folder = Path(report_dir)
    drawings = dict(pictures or {})
    if confusion_classes is not None:
        matrix, classes = report["confusion_matrix"], list(confusion_classes)
        drawings["confusion_matrix.png"] = lambda path: plot_confusion_matrix(matrix, classes, path)
        report["confusion_matrix_png"] = str(folder / "confusion_matrix.png")
    write_report(folder, report, per_class=per_class, overwrite=overwrite)
    for name, draw in drawings.items():
        draw(folder / name)
    return report
