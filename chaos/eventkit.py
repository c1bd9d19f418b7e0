"""What the event checks share: a throwaway database, relay worker processes, a private
NATS server, and waiting for the outbox to drain."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.eventkit import unpublished
from bench.harness import ROOT, free_port, scratch_directory, throwaway_database
from core.db import create_engine, create_sessionmaker

DRAIN_SECONDS = 180.0


@contextmanager
def database() -> Iterator[str]:
    """A migrated throwaway PostgreSQL database's URL (refused without PostgreSQL)."""
    with scratch_directory() as scratch, throwaway_database(scratch) as found:
        if not found.url.startswith("postgresql"):
            raise RuntimeError("the event checks need PostgreSQL at 127.0.0.1:5432")
        yield found.url


@asynccontextmanager
async def sessions(url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(url)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


def start_relay(url: str, nats_url: str, prefix: str, log: Path) -> subprocess.Popen[bytes]:
    """A relay worker process (`chaos.relay_worker`), its output appended to `log`."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "chaos.relay_worker", url, nats_url, prefix],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def drained(sessionmaker: async_sessionmaker[AsyncSession]) -> bool:
    """Wait until every recorded event is published (False when it does not happen)."""
    deadline = time.monotonic() + DRAIN_SECONDS
    while time.monotonic() < deadline:
        if await unpublished(sessionmaker) == 0:
            return True
        await asyncio.sleep(0.2)
    return False


class NatsServer:
    """A NATS server with JetStream of the check's own: its port, its store directory."""

    def __init__(self, store: Path, log: Path) -> None:
        self.port = free_port()
        self.store = store
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = shutil.which("nats-server")
        if binary is None:
            raise RuntimeError("nats-server is not installed")
        command = [binary, "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd", str(self.store)]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"nats-server did not listen on {self.port}; see {self.log}")

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None


@contextmanager
def nats_server(logs: Path, name: str) -> Iterator[NatsServer]:
    store = logs / f"{name}-jetstream"
    os.makedirs(store, exist_ok=True)
    server = NatsServer(store, logs / f"{name}-nats.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(store, ignore_errors=True)


def failures_logged(log: Path) -> int:
    """Relay passes whose sink failed, as the worker logged them."""
    return log.read_text(errors="replace").count("events.sink.failed") if log.exists() else 0
