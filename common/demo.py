"""What a domain's demo hands back to ``dlsuite demo``, and the results table it prints."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any


@dataclasses.dataclass
class DemoResult:
    """Rows for the results table, plus one raw request per exported model for the server."""

    rows: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    requests: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _groups(rows: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Rows grouped by their column set, in first-seen order (one group per kind of task)."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(row)
    return list(groups.values())


def print_table(title: str, rows: Sequence[dict[str, Any]], width: int | None = None) -> None:
    """Print rows (dicts) with rich, sized to the terminal (or ``width`` columns).

    Rows with the same columns share a table; rows of different tasks (different metrics) get
    one table each, titled by their ``task``, so no table is the union of every task's columns.
    """
    from rich.console import Console
    from rich.table import Table

    console = Console(width=width)
    groups = _groups(rows)
    for group in groups:
        heading = title
        if len(groups) > 1:
            tasks = [str(row["task"]) for row in group if "task" in row]
            heading = f"{title}: {', '.join(dict.fromkeys(tasks))}" if tasks else title
        table = Table(title=heading)
        columns = list(group[0])
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in group:
            table.add_row(*(_cell(row.get(column, "")) for column in columns))
        console.print(table)
