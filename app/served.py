"""The process `ledgergate serve` becomes once it has printed its banner and readied the
database: uvicorn, whose supervisor and workers import the app and nothing of the CLI.

uvicorn spawns its workers, and a spawned process re-imports its parent's main module
(as `__mp_main__`). Run from the `ledgergate` command, every worker would also load the
whole CLI (typer, rich, YAML, every command's modules: 7 MiB each); `serve` therefore
replaces itself with `python -m app.served HOST PORT WORKERS`, whose main module is this
small one.
"""

from __future__ import annotations

import sys

import uvicorn

from app.governance.logging import configure_logging
from app.governance.protocol import GatewayProtocol
from core.settings import get_settings

# How long uvicorn's supervisor waits for a new worker's first health check. A spawned
# worker imports the whole gateway before it can answer (about 3 s on an idle 2-CPU
# host); uvicorn's 5 s default kills workers in a loop on a loaded one.
WORKER_START_SECONDS = 60


def serve_argv(host: str, port: int, workers: int) -> list[str]:
    """The argument vector that serves the gateway from this module."""
    return [sys.executable, "-m", "app.served", host, str(port), str(workers)]


def serve(host: str, port: int, workers: int) -> None:
    uvicorn.run(
        "app.main:create_served_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        http=GatewayProtocol,
        server_header=False,  # no banner naming the server software
        timeout_worker_healthcheck=WORKER_START_SECONDS,
    )


if __name__ == "__main__":
    configure_logging(get_settings().log_level)
    serve(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
