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


def print_table(title: str, rows: Sequence[dict[str, Any]]) -> None:
    """Print rows (dicts) as a table with rich; columns are the union of keys in order."""
    from rich.console import Console
    from rich.table import Table

    columns: list[str] = []
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(_cell(row.get(column, "")) for column in columns))
    Console(width=160).print(table)
