"""`ledgergate events tail`: the recorded events as JSON lines, oldest of the last N first."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app
from core.db import create_engine, create_sessionmaker
from core.migrate import upgrade
from core.settings import get_settings
from events.outbox import record
from tests.support.events import opened

runner = CliRunner()


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'events.db'}"
    monkeypatch.setenv("LEDGERGATE_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


async def _record(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        await upgrade(engine)
        events = [opened(subject, n) for n in range(3) for subject in ("inv_a", "inv_b")]
        async with create_sessionmaker(engine).begin() as session:
            await record(session, *events)
        return [event.id for event in events]
    finally:
        await engine.dispose()


def test_tail_prints_the_last_events_oldest_first(database: str) -> None:
    ids = asyncio.run(_record(database))
    result = runner.invoke(app, ["events", "tail", "-n", "4"])
    assert result.exit_code == 0, result.output
    printed = [json.loads(line) for line in result.stdout.splitlines()]
    assert [event["id"] for event in printed] == ids[2:]
    assert printed[0]["type"] == "com.ledgergate.exception.opened.v1"

    only_b = runner.invoke(app, ["events", "tail", "--subject", "inv_b"])
    assert [json.loads(line)["id"] for line in only_b.stdout.splitlines()] == ids[1::2]
    none = runner.invoke(app, ["events", "tail", "--type", "com.ledgergate.invoice.posted.v1"])
    assert (none.exit_code, none.stdout) == (0, "")


async def test_tail_follows_new_events_until_interrupted(database: str) -> None:
    await _record(database)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app.cli",
        "events",
        "tail",
        "-n",
        "0",
        "--follow",
        "--interval",
        "0.1",
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "LEDGERGATE_DATABASE_URL": database},
    )
    assert process.stdout is not None
    try:
        # It prints only what is recorded after it started: record until it prints.
        recorded: list[str] = []
        reading = asyncio.ensure_future(process.stdout.readline())
        engine = create_engine(database)
        async with asyncio.timeout(60):
            while not reading.done():
                event = opened("inv_c", len(recorded))
                async with create_sessionmaker(engine).begin() as session:
                    await record(session, event)
                recorded.append(event.id)
                await asyncio.wait([reading], timeout=0.5)
        await engine.dispose()
        assert json.loads(reading.result())["id"] in recorded
    finally:
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), timeout=20) == 0
