"""`scripts/prerequisites`: what `make` needs is there, installed, or named in one sentence."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.packaging.support import REPO

SCRIPT = REPO / "scripts" / "prerequisites"
BASH = shutil.which("bash") or "/bin/bash"


def fake_bin(tmp_path: Path, **programs: str) -> Path:
    """A PATH holding only the given programs (name: shell body), nothing else."""
    directory = tmp_path / "bin"
    directory.mkdir(parents=True)
    for name, body in programs.items():
        program = directory / name
        program.write_text(f"#!{BASH}\n{body}\n")
        program.chmod(0o755)
    return directory


def run(kind: str, path: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": str(path), "HOME": str(path.parent)}
    return subprocess.run(
        [BASH, str(SCRIPT), kind], env=env, capture_output=True, text=True, check=False
    )


def one_sentence(stderr: str) -> str:
    last = stderr.strip().splitlines()[-1]
    assert last.endswith("."), stderr
    assert last.count(". ") == 0, stderr
    return last


def test_present_tools_pass(tmp_path: Path) -> None:
    path = fake_bin(
        tmp_path,
        python3=f'exec "{sys.executable}" "$@"',
        node=f'exec "{shutil.which("node") or "node"}" "$@"',
        npm="exit 0",
    )
    if shutil.which("node") is None:
        pytest.skip("no node on this machine to stand in for itself")
    assert run("python", path).returncode == 0
    assert run("node", path).returncode == 0


def test_missing_node_without_a_package_manager_stops_with_one_sentence(tmp_path: Path) -> None:
    result = run("node", fake_bin(tmp_path))

    assert result.returncode == 1
    sentence = one_sentence(result.stderr)
    assert "Node.js" in sentence
    assert "npm" in sentence


def test_too_old_node_is_refused(tmp_path: Path) -> None:
    result = run("node", fake_bin(tmp_path, node="exit 1", npm="exit 0"))

    assert result.returncode == 1
    assert "Node.js" in one_sentence(result.stderr)


def test_too_old_python_stops_with_one_sentence(tmp_path: Path) -> None:
    result = run("python", fake_bin(tmp_path, python3="exit 1"))

    assert result.returncode == 1
    assert "python3 3.11 or newer" in one_sentence(result.stderr)


def test_a_missing_tool_is_installed_with_the_package_manager(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("the package manager is used only as root")
    log = tmp_path / "apt.log"
    staged = fake_bin(tmp_path / "staged", node="exit 0", npm="exit 0")
    # A stand-in apt-get that records its calls and "installs" node and npm.
    apt = (
        f'echo "$@" >> "{log}"\n'
        f'if [ "$1" = install ]; then {shutil.which("cp")} "{staged}"/* "{tmp_path / "bin"}"; fi'
    )
    result = run("node", fake_bin(tmp_path, **{"apt-get": apt}))

    assert result.returncode == 0, result.stderr
    assert "install -y -qq nodejs npm" in log.read_text()
