"""README's layout section names every top-level package and every module of the process
tier, and nothing that is not there: a newcomer's map agrees with the tree."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def layout_block() -> str:
    readme = (REPO / "README.md").read_text()
    section = readme.split("### Layout", 1)[1]
    return section.split("```", 2)[1]


def named(block: str) -> set[str]:
    """Every `name/` or `name.py` the block mentions."""
    return set(re.findall(r"\b([a-z_]+(?:/|\.py))(?=[\s,;)]|$)", block))


def test_every_top_level_package_is_in_the_layout() -> None:
    packages = {
        f"{path.name}/"
        for path in REPO.iterdir()
        if (path / "__init__.py").exists() and path.name != "tests"
    }
    assert packages - named(layout_block()) == set()


def test_every_module_of_the_process_tier_is_in_the_layout() -> None:
    tier = REPO / "process_apis"
    modules = {
        f"{path.name}/" if path.is_dir() else path.name
        for path in tier.iterdir()
        if path.name != "__init__.py" and (path.suffix == ".py" or (path / "__init__.py").exists())
    }
    assert modules - named(layout_block()) == set()


def test_the_layout_names_nothing_that_is_not_there() -> None:
    block = layout_block()
    roots = (
        "",
        "core/",
        "app/",
        "process_apis/",
        "system_apis/",
        "events/",
        "sandboxes/",
        "tests/",
    )
    missing = {
        name
        for name in named(block)
        if not any((REPO / root / name.rstrip("/")).exists() for root in roots)
        and not any((REPO / root / name).exists() for root in roots)
    }
    assert missing == set()
