"""The bytecode directory of the image's processes: the dependencies' modules compiled
without docstrings and asserts, ours as they are, read by a plain interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app import bytecode

DEPENDENCY = '''"""A dependency."""
def f():
    """Its docstring."""
    assert False, "asserted"
'''
OURS = '''"""Ours."""
def g():
    """An endpoint's description."""
'''
READ = """
import sys
import dependency, ours
print(dependency.__doc__, dependency.f.__doc__, ours.__doc__, ours.g.__doc__, sep="|")
dependency.f()
print("no assert")
"""


def test_dependencies_lose_their_docstrings_and_ours_keep_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site, mine, prefix = tmp_path / "site-packages", tmp_path / "project", tmp_path / "bytecode"
    site.mkdir()
    mine.mkdir()
    (site / "dependency.py").write_text(DEPENDENCY)
    (mine / "ours.py").write_text(OURS)
    paths = {key: str(site) for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    monkeypatch.setattr(bytecode.sysconfig, "get_paths", lambda: paths)
    monkeypatch.setattr(bytecode, "project_directories", list)

    assert bytecode.compile_into(prefix, [mine]) == 2
    assert bytecode.compile_into(prefix, [mine]) == 0  # up to date: skipped

    env = {
        **os.environ,
        "PYTHONPYCACHEPREFIX": str(prefix),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPATH": os.pathsep.join([str(site), str(mine)]),
    }
    read = subprocess.run(
        [sys.executable, "-c", READ], env=env, capture_output=True, text=True, check=True
    )
    assert read.stdout.splitlines() == ["None|None|Ours.|An endpoint's description.", "no assert"]


def test_the_compiler_runs_without_column_positions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Column positions (the `^^^^` of a traceback) cost a worker 0.8 MiB of line tables."""
    execs: list[list[str]] = []

    def record(path: str, argv: list[str]) -> None:
        execs.append(argv)
        raise SystemExit(0)

    monkeypatch.setattr(os, "execv", record)
    monkeypatch.setattr(bytecode, "compile_into", lambda *_: 0)
    monkeypatch.setattr(sys, "orig_argv", [sys.executable, "-m", "app.bytecode", "out"])
    with pytest.raises(SystemExit):
        bytecode.main(["out"])
    assert execs == [[sys.executable, "-X", "no_debug_ranges", "-m", "app.bytecode", "out"]]
