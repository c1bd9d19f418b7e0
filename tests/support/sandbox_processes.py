"""Sandboxes as separate processes: `ledgergate sandbox erp|billing --port N` over real HTTP.

`sandbox_process` starts the CLI command under uvicorn on a free loopback port, waits
until it answers (its fault control endpoint, which every sandbox serves), yields
where to reach it and stops it afterwards: SIGTERM, then SIGKILL if a held answer (an
injected timeout) keeps uvicorn's graceful shutdown waiting.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

import httpx

from app.sandbox_servers import API_ROOTS
from sandboxes.faults import FAULTS_ENV, FAULTS_PATH, FaultConfig

REPO_ROOT = Path(__file__).resolve().parents[2]
BC_API_ROOT = API_ROOTS["erp"]
STARTUP_SECONDS = 60.0  # a loaded 2-CPU host takes 20 s and more to import the CLI
STOP_SECONDS = 5.0
PORT_ATTEMPTS = 3

Backend = Literal["erp", "billing", "crm", "support"]

UNREACHABLE_URLS = {
    f"LEDGERGATE_{backend.upper()}__URL": f"http://127.0.0.1:9{root}"
    for backend, root in API_ROOTS.items()
}
"""Backend URLs for processes that call none of them: every process sees the same (no)
backend, so none starts a private sandbox. Override the ones a test does call."""


@dataclass(frozen=True)
class SandboxProcess:
    backend: Backend
    port: int
    process: subprocess.Popen[bytes]
    initial_faults: dict[str, object]
    """The fault report the sandbox answered when it came up (its configuration from env)."""

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_root(self) -> str:
        """The base URL an adapter's client takes."""
        return self.origin + API_ROOTS[self.backend]

    def set_faults(self, config: FaultConfig) -> dict[str, object]:
        """Configure the sandbox's fault injection; answers its report."""
        response = httpx.post(self.origin + FAULTS_PATH, content=config.model_dump_json())
        response.raise_for_status()
        report: dict[str, object] = response.json()
        return report

    def faults(self) -> dict[str, object]:
        report: dict[str, object] = httpx.get(self.origin + FAULTS_PATH).json()
        return report


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def free_ports(count: int) -> int:
    """The first of `count` consecutive ports that are all free now: another server of the
    suite may hold the ones after a single free port."""
    while True:
        first = free_port()
        with contextlib.ExitStack() as held:
            try:
                for port in range(first, first + count):
                    sock = held.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        return first


@contextmanager
def sandbox_process(
    backend: Backend,
    *,
    faults: FaultConfig | None = None,
    log: Path | None = None,
    options: tuple[str, ...] = (),
) -> Iterator[SandboxProcess]:
    """A running sandbox process; `faults` is its initial fault configuration (via env),
    `options` more options of `ledgergate sandbox`."""
    env = {**os.environ}
    env.pop(FAULTS_ENV, None)
    if faults is not None:
        env[FAULTS_ENV] = json.dumps(faults.model_dump(mode="json"))
    log_path = log or Path(os.devnull)
    with log_path.open("ab") as output:
        sandbox = _start(backend, env, output, options)
        try:
            yield sandbox
        finally:
            _stop(sandbox.process)


def _start(
    backend: Backend, env: dict[str, str], output: IO[bytes], options: tuple[str, ...]
) -> SandboxProcess:
    """Start on a free port; another process may take the port first, so try a few."""
    failures: list[str] = []
    for _ in range(PORT_ATTEMPTS):
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "sandbox", backend, "--port", str(port), *options],
            cwd=REPO_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        origin = f"http://127.0.0.1:{port}"
        if (report := _wait_ready(origin, process)) is not None:
            return SandboxProcess(backend, port, process, report)
        _stop(process)
        failures.append(f"port {port}: exit code {process.returncode}")
    raise RuntimeError(f"the {backend} sandbox did not start: {'; '.join(failures)}")


def _wait_ready(origin: str, process: subprocess.Popen[bytes]) -> dict[str, object] | None:
    """The sandbox's fault report once it answers; `None` if it exits or never answers."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return None
        try:
            response = httpx.get(origin + FAULTS_PATH, timeout=1)
        except httpx.TransportError:
            time.sleep(0.05)
            continue
        if response.status_code == 200:
            report: dict[str, object] = response.json()
            return report
    return None


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
