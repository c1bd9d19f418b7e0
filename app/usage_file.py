"""Usage events from a file: CSV with a header row, or JSON lines (`.jsonl`, `.ndjson`).

CSV columns are the event's fields (`id`, `customer_id` or `subscription_id`, `meter`,
`quantity`, `timestamp`, optionally `properties` as a JSON object); an empty cell is an
absent field. Each record keeps its line number, for the one-line errors.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

JSON_LINES = frozenset({".jsonl", ".ndjson"})


@dataclass(frozen=True)
class Record:
    line: int
    event: dict[str, Any] | None  # None: the line could not be read as an event
    error: str | None = None


def _csv_event(row: dict[str, str]) -> dict[str, Any]:
    event: dict[str, Any] = {name: value for name, value in row.items() if value not in ("", None)}
    if "properties" in event:
        event["properties"] = json.loads(event["properties"])
    return event


def _csv_records(path: Path) -> Iterator[Record]:
    with path.open(newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        for row in reader:
            try:
                yield Record(reader.line_num, _csv_event(row))
            except json.JSONDecodeError:
                yield Record(reader.line_num, None, "properties is not a JSON object")


def _json_lines(path: Path) -> Iterator[Record]:
    with path.open(encoding="utf-8") as file:
        for number, text in enumerate(file, start=1):
            if not text.strip():
                continue
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                yield Record(number, None, "not JSON")
                continue
            if isinstance(value, dict):
                yield Record(number, value)
            else:
                yield Record(number, None, "not a JSON object")


def read_records(path: Path) -> Iterator[Record]:
    """The file's events in order, by its suffix: JSON lines, else CSV."""
    return _json_lines(path) if path.suffix.lower() in JSON_LINES else _csv_records(path)


def count_lines(path: Path) -> int:
    """Lines in the file (the progress bar's total)."""
    with path.open("rb") as file:
        return sum(1 for _ in file)
