"""README's configuration table lists every setting, with its default and an example.

A setting added to `core.settings` without a row fails here, and so does a row whose
default no longer matches the code.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr, TypeAdapter

from core.settings import Settings, env_name

README = Path(__file__).resolve().parents[3] / "README.md"
ANY_BACKEND = "<BACKEND>"
LONG_DEFAULT = 60  # a default longer than this (as JSON) is described, not quoted


def leaf_settings(model: BaseModel, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """(environment variable, default) for every setting, nested sections walked."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            yield from leaf_settings(value, (*path, name))
        else:
            yield env_name(*path, name), value


def documented_rows() -> dict[str, tuple[str, str]]:
    """variable -> (default cell, example cell), from the tables under `## Configuration`."""
    section = README.read_text().split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    backends = [name.upper() for name, _ in Settings(_env_file=None).backends()]  # type: ignore[call-arg]
    rows: dict[str, tuple[str, str]] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("| `LEDGERGATE_") or len(cells) != 4:
            continue
        variable, default, example, _what = cells
        name = variable.strip("`")
        for backend in backends if ANY_BACKEND in name else [""]:
            rows[name.replace(ANY_BACKEND, backend)] = (default, example)
    return rows


def expected_default(value: Any) -> str | None:
    """How a default must appear in its cell: `value`, as JSON unless a string; None when
    it is too long to quote (then it is described) or there is none."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if value is None:
        return None
    plain = TypeAdapter(type(value)).dump_python(value, mode="json")
    rendered = plain if isinstance(plain, str) else json.dumps(plain)
    return None if len(rendered) > LONG_DEFAULT else f"`{rendered}`"


SETTINGS = list(leaf_settings(Settings(_env_file=None)))  # type: ignore[call-arg]


def test_every_setting_has_a_row() -> None:
    rows = documented_rows()
    missing = [variable for variable, _ in SETTINGS if variable not in rows]
    assert missing == [], "settings missing from README's configuration table"


def test_no_row_documents_a_setting_that_does_not_exist() -> None:
    known = {variable for variable, _ in SETTINGS}
    assert sorted(set(documented_rows()) - known) == []


@pytest.mark.parametrize(("variable", "default"), SETTINGS, ids=[v for v, _ in SETTINGS])
def test_each_row_gives_the_default_and_an_example(variable: str, default: Any) -> None:
    cells = documented_rows().get(variable)
    if cells is None:
        pytest.fail(f"{variable} has no row")
    default_cell, example_cell = cells
    assert example_cell, f"{variable}: no example"
    assert default_cell, f"{variable}: no default"
    expected = expected_default(default)
    if default is None:
        assert "none" in default_cell.lower(), f"{variable}: has no default"
    elif expected is not None:
        assert expected in default_cell, f"{variable}: default {expected}, README {default_cell}"
