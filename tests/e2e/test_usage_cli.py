"""`ledgergate usage import`: CSV and JSON lines back-fills, counted and safe to repeat."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from app.cli import app
from app.governance.auth.clients import create_client
from app.seed import seed_demo_estate
from core.db import create_engine as create_async_engine
from core.db import create_sessionmaker
from core.migrate import upgrade
from core.settings import get_settings
from tests.support.usage import Metered, metered_subscription

runner = CliRunner(env={"COLUMNS": "200", "LEDGERGATE_OPERATOR": "ada.usage"})
CLIENT = "backfill-platform"


async def _estate(url: str) -> Metered:
    engine = create_async_engine(url)
    try:
        await upgrade(engine)
        sessionmaker = create_sessionmaker(engine)
        await seed_demo_estate(sessionmaker)
        async with sessionmaker.begin() as session:
            await create_client(session, name="backfill", scopes=["usage:write"], client_id=CLIENT)
        return await metered_subscription(sessionmaker)
    finally:
        await engine.dispose()


@pytest.fixture
def usage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Metered:
    url = f"sqlite+aiosqlite:///{tmp_path / 'usage.db'}"
    monkeypatch.setenv("LEDGERGATE_DATABASE_URL", url)
    get_settings.cache_clear()
    yield asyncio.run(_estate(url))  # type: ignore[misc]
    get_settings.cache_clear()


def stored(tmp_path: Path) -> list[tuple[str, int]]:
    with create_engine(f"sqlite:///{tmp_path / 'usage.db'}").connect() as connection:
        rows = connection.execute(
            text("SELECT event_id, quantity_micros FROM usage_events ORDER BY event_id")
        )
        return [(event_id, micros) for event_id, micros in rows]


def test_a_csv_backfill_is_imported_once(usage: Metered, tmp_path: Path) -> None:
    when = usage.event("x")["timestamp"]
    file = tmp_path / "usage.csv"
    lines = ["id,subscription_id,meter,quantity,timestamp,properties"]
    lines += [f"b-{n},{usage.subscription_id},api_calls,{n}.5,{when}," for n in range(1500)]
    lines.append(f'b-bad,{usage.subscription_id},api_calls,-1,{when},"{{""a"": 1}}"')
    file.write_text("\n".join(lines) + "\n")
    first = runner.invoke(app, ["usage", "import", str(file), "--client", CLIENT])
    assert first.exit_code == 1, first.output
    assert "accepted 1500 · duplicate 0 · rejected 1" in first.stdout
    assert "line 1502 (b-bad):" in first.output
    assert "validation-error at /quantity" in first.output
    again = runner.invoke(app, ["usage", "import", str(file), "--client", CLIENT])
    assert "accepted 0 · duplicate 1500 · rejected 1" in again.stdout
    rows = stored(tmp_path)
    assert len(rows) == 1500
    assert sum(micros for _, micros in rows) == sum(n * 1_000_000 + 500_000 for n in range(1500))


def test_json_lines_are_imported_with_unreadable_lines_reported(
    usage: Metered, tmp_path: Path
) -> None:
    file = tmp_path / "usage.jsonl"
    events = [json.dumps(usage.event(f"j-{n}", quantity=n)) for n in range(3)]
    file.write_text("\n".join([events[0], "{not json", events[1], "", events[2]]) + "\n")
    result = runner.invoke(app, ["usage", "import", str(file), "--client", CLIENT])
    assert result.exit_code == 1, result.output
    assert "accepted 3 · duplicate 0 · rejected 1" in result.stdout
    assert "line 2: not JSON" in result.output
    assert [event_id for event_id, _ in stored(tmp_path)] == ["j-0", "j-1", "j-2"]
    clean = tmp_path / "clean.jsonl"
    clean.write_text(events[0] + "\n")
    assert runner.invoke(app, ["usage", "import", str(clean), "--client", CLIENT]).exit_code == 0


def test_an_unknown_client_is_refused(usage: Metered, tmp_path: Path) -> None:
    file = tmp_path / "usage.jsonl"
    file.write_text(json.dumps(usage.event("n-1")) + "\n")
    result = runner.invoke(app, ["usage", "import", str(file), "--client", "nobody"])
    assert result.exit_code != 0
    assert "no API client nobody" in result.output
    assert stored(tmp_path) == []
