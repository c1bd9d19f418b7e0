"""The gateway as `make run` starts it: `ledgergate serve` in its own process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.sandbox_processes import REPO_ROOT, free_port

STARTUP_SECONDS = 60.0  # a migrating, seeding start on a loaded 2-CPU host


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


def start_gateway(
    env: dict[str, str], log: Path | None = None, *, workers: int = 1
) -> tuple[subprocess.Popen[bytes], str]:
    output = (log or Path(os.devnull)).open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--workers", str(workers)],
        env=env,
        cwd=REPO_ROOT,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{env['LEDGERGATE_PORT']}"
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the gateway exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the gateway did not start")


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
