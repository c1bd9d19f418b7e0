"""The gateway as `make run` starts it: `ledgergate serve` in its own process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.support.sandbox_processes import REPO_ROOT, free_port

STARTUP_SECONDS = 60.0  # a migrating, seeding start on a loaded 2-CPU host
WORKERS_STARTUP_SECONDS = 180.0  # a supervisor and its workers importing the app side by side


def gateway_env(database: Path, **settings: str) -> dict[str, str]:
    """A development gateway (demo estate and clients seeded) on its own SQLite file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGERGATE_")}
    env.update(
        LEDGERGATE_DATABASE_URL=f"sqlite+aiosqlite:///{database}",
        LEDGERGATE_ENVIRONMENT="development",
        LEDGERGATE_PORT=str(free_port()),
        **settings,
    )
    return env


def poll_until(done: Callable[[], bool], seconds: float, what: str) -> None:
    """Wait until `done()`, checking every 0.2 s; after `seconds`, fail naming `what`."""
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {seconds:g} s waiting for {what}")
        time.sleep(0.2)


def started_workers(log: Path) -> int:
    """How many worker processes of a gateway logging to `log` have started their app."""
    return log.read_text(errors="replace").count('"Application startup complete."')


def start_gateway(
    env: dict[str, str], log: Path | None = None, *, workers: int = 1
) -> tuple[subprocess.Popen[bytes], str]:
    """The gateway answering `/healthz`; with `workers` and a `log`, every worker started."""
    output = (log or Path(os.devnull)).open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--workers", str(workers)],
        env=env,
        cwd=REPO_ROOT,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{env['LEDGERGATE_PORT']}"

    def ready() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"the gateway exited with {process.returncode}")
        if log is not None and workers > 1 and started_workers(log) < workers:
            return False
        try:
            return httpx.get(f"{base}/healthz", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    try:
        poll_until(ready, WORKERS_STARTUP_SECONDS if workers > 1 else STARTUP_SECONDS, "start")
    except AssertionError:
        process.kill()
        raise RuntimeError("the gateway did not start") from None
    return process, base


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def token(base: str, client: str = "demo-platform", secret: str = "demo-platform-secret") -> str:
    response = httpx.post(
        f"{base}/oauth/token", data={"grant_type": "client_credentials"}, auth=(client, secret)
    )
    response.raise_for_status()
    value: str = response.json()["access_token"]
    return value
