"""The Dockerfile: hadolint-clean, and what the image promises, checked without a Docker engine.

The HEALTHCHECK and ENTRYPOINT commands are run here as the image would run them (the
interpreter and `ledgergate` from this environment stand in for the image's).
"""

from __future__ import annotations

import fnmatch
import json
import os
import shlex
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from app import bytecode
from bench import harness
from bench.harness import PRODUCTION_MALLOC
from tests.packaging.support import DOCKERFILE, DOCKERIGNORE, REPO, Stage, dockerfile_stages

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def runtime() -> Stage:
    return dockerfile_stages()[-1]


def exec_form(arguments: str) -> list[str]:
    parsed: list[str] = json.loads(arguments)
    return parsed


def test_hadolint_finds_nothing() -> None:
    result = subprocess.run(
        [str(BIN / "hadolint"), "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_builder_installs_the_lock_without_dev_dependencies() -> None:
    stages = {stage.name: stage for stage in dockerfile_stages()}
    runs = " ".join(stages["builder"].all("RUN"))
    assert "uv sync --frozen --no-dev --no-install-project" in runs
    assert "uv sync --frozen --no-dev --no-editable" in runs
    venv = stages["builder"].env()["UV_PROJECT_ENVIRONMENT"]
    assert f"--from=builder {venv} {venv}" in stages["runtime"].all("COPY")
    assert f"{venv}/bin:" in stages["runtime"].env()["PATH"]


def test_runtime_is_non_root_and_read_only_friendly(runtime: Stage) -> None:
    user, _, group = runtime.last("USER").partition(":")
    assert user.isdigit()
    assert int(user) > 0
    assert group.isdigit()
    env = runtime.env()
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    volumes = exec_form(runtime.last("VOLUME"))
    assert env["PROMETHEUS_MULTIPROC_DIR"] in volumes
    assert "/tmp" in volumes
    assert runtime.last("EXPOSE") == env["LEDGERGATE_PORT"]
    assert env["LEDGERGATE_HOST"] == "0.0.0.0"
    command = exec_form(runtime.last("CMD"))
    assert command[:2] == ["serve", "--workers"]
    assert int(command[2]) > 1


def test_runtime_returns_large_freed_blocks_as_the_benchmarks_measure(runtime: Stage) -> None:
    """A fixed mmap threshold: glibc's rising one let each thread's arena keep 16 MiB."""
    threshold = runtime.env()["MALLOC_MMAP_THRESHOLD_"]
    assert int(threshold) <= 1024 * 1024
    assert PRODUCTION_MALLOC == {"MALLOC_MMAP_THRESHOLD_": threshold}


def test_benchmark_servers_start_from_bytecode_as_the_image_compiles_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The image compiles every module at build, into the directory its processes read
    (`app.bytecode`); a server importing from source would keep the compiler's freed memory
    (redis-py: 22 MiB from source, 6 from bytecode), one with the dependencies' docstrings
    6 MiB more. The benchmarks' servers start from the same kind of directory."""
    stages = {stage.name: stage for stage in dockerfile_stages()}
    directory = stages["runtime"].env()["PYTHONPYCACHEPREFIX"]
    assert f"python -m app.bytecode {directory}" in " ".join(stages["builder"].all("RUN"))
    assert f"--from=builder {directory} {directory}" in stages["runtime"].all("COPY")
    commands: list[list[str]] = []
    monkeypatch.setattr(subprocess, "run", lambda command, **_: commands.append(command))
    harness.compile_bytecode.cache_clear()
    try:
        harness.compile_bytecode()
    finally:
        harness.compile_bytecode.cache_clear()
    [command] = commands
    assert command[1:4] == ["-m", "app.bytecode", str(harness.BYTECODE)]
    server = harness.Server("gateway", harness.Database("sqlite+aiosqlite://", "none"), REPO)
    assert server.env["PYTHONPYCACHEPREFIX"] == str(harness.BYTECODE)


def test_the_bytecode_keeps_the_docstrings_of_the_wheels_packages() -> None:
    """Ours are OpenAPI descriptions and schema descriptions; only theirs are dropped."""
    wheel = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["hatch"]["build"]
    assert set(bytecode.PROJECT_PACKAGES) == set(wheel["targets"]["wheel"]["packages"])


class Probe(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def probe_server() -> Iterator[HTTPServer]:
    server = HTTPServer(("127.0.0.1", 0), Probe)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def run_healthcheck(runtime: Stage, port: int) -> int:
    options, _, command = runtime.last("HEALTHCHECK").partition("CMD ")
    assert "--timeout=" in options
    argv = exec_form(command)
    assert argv[0] == "python"  # the stdlib only: the slim image has no curl
    env = {**os.environ, "LEDGERGATE_PORT": str(port)}
    return subprocess.run(
        [sys.executable, *argv[1:]], env=env, capture_output=True, timeout=30, check=False
    ).returncode


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
def test_healthcheck_follows_healthz(
    runtime: Stage, probe_server: HTTPServer, status: int, healthy: bool
) -> None:
    Probe.status = status
    assert (run_healthcheck(runtime, probe_server.server_address[1]) == 0) is healthy


def test_healthcheck_fails_when_nothing_listens(runtime: Stage, probe_server: HTTPServer) -> None:
    port = probe_server.server_address[1]
    probe_server.shutdown()
    probe_server.server_close()
    assert run_healthcheck(runtime, port) != 0


def test_entrypoint_empties_the_metrics_directory_then_runs_ledgergate(
    runtime: Stage, tmp_path: Path
) -> None:
    stale = tmp_path / "counter_12345.db"
    stale.write_bytes(b"left by an earlier container")
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [*exec_form(runtime.last("ENTRYPOINT")), "--help"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "serve" in result.stdout
    assert "migrate" in result.stdout
    assert not stale.exists()  # the app may start new files of its own; the stale one is gone


def in_build_context(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path (or a parent of it) decides."""
    included = True
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        negated = pattern.startswith("!")
        glob = pattern.removeprefix("!").rstrip("/")
        if any(fnmatch.fnmatch(prefix, glob) for prefix in prefixes):
            included = negated
    return included


def test_build_context_holds_what_the_wheel_needs_and_nothing_else() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    needed = ["pyproject.toml", "uv.lock", project["project"]["readme"]]
    needed += [
        f"{package}/__init__.py"
        for package in project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    ]
    needed.append("migrations/versions/0001_initial_schema.py")
    for path in needed:
        assert in_build_context(path, patterns), f"{path} would be missing from the build"
    for path in [
        ".venv/bin/python",
        ".git/HEAD",
        ".env",
        "var/ledgergate.db",
        "tests/conftest.py",
        "app/__pycache__/cli.cpython-311.pyc",
    ]:
        assert not in_build_context(path, patterns), f"{path} would be sent to the build"
    # The bind-mounted files of the dependency layer are in the context too.
    runs = " ".join(dockerfile_stages()[1].all("RUN"))
    for word in shlex.split(runs):
        if word.startswith("--mount=type=bind"):
            source = dict(kv.split("=", 1) for kv in word.removeprefix("--mount=").split(","))[
                "source"
            ]
            assert in_build_context(source, patterns)
