"""`ledgergate webhooks`: an operator lists deliveries, resends and recovers, audited."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from app.cli import app
from core.db import create_engine as create_async_engine
from core.db import create_sessionmaker
from core.migrate import upgrade
from core.models.base import utcnow
from core.settings import get_settings
from events.envelope import new_event
from events.webhooks import service
from events.webhooks.context import WebhookContext
from events.webhooks.fanout import WebhookFanout
from events.webhooks.schemas import WebhookEndpointCreate

runner = CliRunner(env={"COLUMNS": "200"})


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "webhooks.db"
    monkeypatch.setenv("LEDGERGATE_DATABASE_URL", f"sqlite+aiosqlite:///{path}")
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


def an_endpoint_with_two_messages() -> str:
    """An endpoint (on a public address literal) with messages an hour apart; its id."""

    async def setup() -> str:
        engine = create_async_engine(get_settings().database_url)
        try:
            await upgrade(engine)
            context = WebhookContext.build(get_settings(), create_sessionmaker(engine))
            endpoint, _ = await service.create_endpoint(
                context,
                service.Owner("cli-test", None),
                WebhookEndpointCreate(url="https://93.184.216.34/hooks"),
            )
            for hours, run in ((2, "run_1"), (0, "run_2")):
                event = new_event(
                    "com.ledgergate.invoice.posted.v1",
                    fact=(run,),
                    subject="inv_1",
                    data={"total": 100},
                    time=utcnow(),
                )
                fanout = WebhookFanout(
                    context.sessionmaker, clock=lambda h=hours: utcnow() - timedelta(hours=h)
                )
                await fanout.publish([event])
            return endpoint.id
        finally:
            await engine.dispose()

    return asyncio.run(setup())


def deliveries(endpoint_id: str) -> list[dict[str, object]]:
    result = runner.invoke(app, ["webhooks", "deliveries", endpoint_id, "--output", "json"])
    assert result.exit_code == 0, result.output
    items: list[dict[str, object]] = json.loads(result.stdout)["items"]
    return items


def test_recover_makes_the_messages_since_a_time_due_again(database: Path) -> None:
    endpoint_id = an_endpoint_with_two_messages()
    before = deliveries(endpoint_id)
    assert [m["attempts"] for m in before] == [0, 0]
    since = (utcnow() - timedelta(hours=1)).isoformat()
    refused = runner.invoke(app, ["webhooks", "recover", endpoint_id, "--since", since])
    assert refused.exit_code != 0  # no operator named
    recovered = runner.invoke(
        app, ["webhooks", "recover", endpoint_id, "--since", since, "--operator", "ops-1"]
    )
    assert recovered.exit_code == 0, recovered.output
    assert "1 message of" in recovered.output
    with create_engine(f"sqlite:///{database}").connect() as connection:
        audited = connection.execute(
            text("SELECT action, object_id, outcome FROM audit_events")
        ).all()
    assert audited == [("CLI webhooks recover", endpoint_id, "succeeded")]


def test_resend_and_the_delivery_log(database: Path) -> None:
    endpoint_id = an_endpoint_with_two_messages()
    [newest, _] = deliveries(endpoint_id)
    resent = runner.invoke(
        app, ["webhooks", "resend", endpoint_id, str(newest["id"]), "--operator", "ops-1"]
    )
    assert resent.exit_code == 0, resent.output
    log = runner.invoke(
        app, ["webhooks", "attempts", endpoint_id, str(newest["id"]), "--output", "json"]
    )
    assert log.exit_code == 0, log.output
    assert json.loads(log.stdout) == {"items": [], "next_cursor": None}
    shown = runner.invoke(app, ["webhooks", "show", endpoint_id])
    assert json.loads(shown.stdout)["status"] == "enabled"


def test_an_unknown_endpoint_is_a_one_line_problem(database: Path) -> None:
    an_endpoint_with_two_messages()
    result = runner.invoke(app, ["webhooks", "deliveries", "ep_00000000000000000000000000"])
    assert result.exit_code == 1
    assert "webhook-endpoint-not-found" in result.output
