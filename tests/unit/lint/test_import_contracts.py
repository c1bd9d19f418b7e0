"""The import-linter contracts of `make lint` bite: a copy of the tree with one forbidden
import added fails them, the tree as it is passes."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
PACKAGES = ("core", "app", "process_apis", "system_apis", "events", "sandboxes")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    lint = Path(sys.executable).with_name("lint-imports")
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(lint), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def copy_tree(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


@pytest.mark.parametrize(
    ("module", "forbidden", "contract"),
    [
        ("process_apis/payments/workflow.py", "process_apis.invoices.workflow", "side by side"),
        ("system_apis/errors.py", "process_apis.deps", "Tiers point one way"),
        ("process_apis/lookups.py", "sandboxes", "composition root"),
        ("process_apis/lookups.py", "system_apis.http", "only through its ports"),
        ("events/envelope.py", "system_apis.errors", "Tiers point one way"),
    ],
)
def test_a_forbidden_import_breaks_a_contract(
    tmp_path: Path, module: str, forbidden: str, contract: str
) -> None:
    root = copy_tree(tmp_path)
    with (root / module).open("a") as source:
        source.write(f"\nimport {forbidden}  # noqa: E402\n")
    result = lint_imports(root)
    assert result.returncode == 1, result.stdout
    broken = result.stdout.split("Broken contracts", 1)[1]
    assert contract in broken


def test_the_tree_keeps_every_contract(tmp_path: Path) -> None:
    result = lint_imports(copy_tree(tmp_path))
    assert result.returncode == 0, result.stdout
