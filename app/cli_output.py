"""How `ledgergate` prints results: tables for people, JSON for scripts.

A table fits the terminal by wrapping long cells inside their column, never by cutting
them; piped or redirected, it is as wide as its content. `--output json` prints the
same rows as a JSON array, whole.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.measure import Measurement
from rich.table import Column, Table

UNBOUNDED = 1_000_000  # characters: wider than any table, so a piped one is measured whole


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


OutputOption = Annotated[
    OutputFormat,
    typer.Option("--output", "-o", help="`table` for people, `json` for scripts."),
]


def table(*headers: str, title: str | None = None) -> Table:
    """A table whose cells wrap within their column when the terminal is narrow."""
    return Table(*(Column(header, overflow="fold") for header in headers), title=title)


def print_table(rows: Table, *, console: Console | None = None) -> None:
    """Print `rows` to the terminal's width, or, when not a terminal, whole on each line."""
    console = console or Console()
    if not console.is_terminal:
        unbounded = console.options.update_width(UNBOUNDED)
        width = Measurement.get(console, unbounded, rows).maximum
        console = Console(width=max(console.width, width))
    console.print(rows)


def print_json(value: Any) -> None:
    """`value` as indented JSON on stdout (dates and times in ISO 8601)."""
    typer.echo(json.dumps(value, indent=2, default=str))
