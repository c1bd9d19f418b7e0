"""Run the contract governance tools: Spectral (the style ruleset) and Optic (breaking changes).

Both come from npm (`make tools`: `npm ci` from the committed `package-lock.json`) into
`node_modules/.bin`. Without them a test skips on a laptop and fails under `CI=true`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tests.support.services import service_missing

REPO = Path(__file__).resolve().parents[2]
OPENAPI = REPO / "openapi"
RULESET = OPENAPI / ".spectral.yaml"
BIN = REPO / "node_modules" / ".bin"
# Optic reports nothing home and checks for no update: the run stays on this machine.
OPTIC_ENV = {"OPTIC_TELEMETRY_LEVEL": "off", "NO_UPDATE_NOTIFIER": "1"}
OPTIC_RULE = re.compile(r"\[(prevent [^\]]+)\]")


def tool(name: str) -> Path:
    """`node_modules/.bin/<name>`, or a skip (a failure under CI) when it is not installed."""
    path = BIN / name
    if not path.exists():
        service_missing(name, "not installed: run `make tools` (npm ci)")
    return path


@dataclass(frozen=True)
class SpectralFinding:
    rule: str
    file: str
    path: str
    message: str


def spectral_lint(documents: Sequence[Path], ruleset: Path = RULESET) -> list[SpectralFinding]:
    """Every finding of severity warn or higher over `documents` (none: they all pass)."""
    result = subprocess.run(
        [
            str(tool("spectral")),
            "lint",
            "--ruleset",
            str(ruleset),
            "--format",
            "json",
            "--fail-severity",
            "warn",
            "--quiet",
            *map(str, documents),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    findings = json.loads(result.stdout or "[]")
    if result.returncode not in (0, 1) or (result.returncode == 1) != bool(findings):
        raise RuntimeError(f"spectral failed: {result.returncode} {result.stderr}")
    return [
        SpectralFinding(
            rule=finding["code"],
            file=Path(finding["source"]).name,
            path="/".join(map(str, finding["path"])),
            message=finding["message"],
        )
        for finding in findings
        if finding["severity"] <= 1  # 0 error, 1 warn
    ]


@dataclass(frozen=True)
class BreakingReport:
    base: Path
    head: Path
    passed: bool
    rules: frozenset[str]
    output: str


def optic_breaking(base: Path, head: Path) -> BreakingReport:
    """`optic diff base head --check`: Optic's breaking-changes ruleset over the two files.
    Run from a directory of its own: under CI Optic writes a `ci-run-details.json` where it
    runs, which is no part of the contracts."""
    with tempfile.TemporaryDirectory() as scratch:
        result = subprocess.run(
            [str(tool("optic")), "diff", str(base.resolve()), str(head.resolve()), "--check"],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
            cwd=scratch,
            env={**os.environ, **OPTIC_ENV},
        )
    output = result.stdout + result.stderr
    if result.returncode not in (0, 1):
        raise RuntimeError(f"optic failed: {result.returncode} {output}")
    return BreakingReport(
        base=base,
        head=head,
        passed=result.returncode == 0,
        rules=frozenset(OPTIC_RULE.findall(output)),
        output=output,
    )


def optic_breaking_all(pairs: Sequence[tuple[Path, Path]]) -> list[BreakingReport]:
    """`optic_breaking` over several pairs, two at a time (the machine has two cores)."""
    tool("optic")
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda pair: optic_breaking(*pair), pairs))
