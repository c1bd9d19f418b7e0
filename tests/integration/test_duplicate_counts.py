"""Duplicates suppressed are counted in the database, on SQLite and PostgreSQL: every
gateway instance adds to the same figure, a restart forgets none, and the console's KPIs
show it per day."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from core.duplicates import DuplicateSource
from core.models.base import utcnow
from core.models.duplicate_count import DuplicateCountRow
from tests.conftest import Gateway, GatewayFactory
from tests.e2e.test_console_pages import bar_heights
from tests.e2e.test_webhooks import deliver, event
from tests.integration.test_usage import send
from tests.support.console import signed_in
from tests.support.invoices import invoice_body
from tests.support.usage import metered_subscription


async def counts(gateway: Gateway) -> dict[str, int]:
    """Today's counts per source."""
    async with gateway.sessionmaker() as session:
        rows = await session.scalars(
            select(DuplicateCountRow).where(DuplicateCountRow.day == utcnow().date())
        )
        return {row.source: row.count for row in rows}


async def post(gateway: Gateway, invoice_id: str, times: int) -> None:
    for _ in range(times):
        answer = await gateway.client.post(
            f"/v1/invoices/{invoice_id}/postings", json={}, headers={"Idempotency-Key": "dup-1"}
        )
        assert answer.status_code == 201, answer.text


async def test_replays_on_two_instances_add_up_and_survive_a_restart(
    make_gateway: GatewayFactory,
) -> None:
    first, second = await make_gateway(), await make_gateway()
    invoice = (await first.client.post("/v1/invoices", json=invoice_body())).json()["id"]
    await post(first, invoice, 2)  # the posting, then one replay
    await post(second, invoice, 2)  # two replays on the other instance
    restarted = await make_gateway()
    browser, _ = await signed_in(restarted, "vera", "viewer")
    page = (await browser.get("/console/kpis")).text
    assert "<dt>Duplicates suppressed (all replicas)</dt><dd>3</dd>" in page
    today = bar_heights(page, "duplicates")[date.today().day - 1]
    assert today > 0
    assert await counts(restarted) == {DuplicateSource.IDEMPOTENT_REPLAY: 3}


async def test_a_redelivered_webhook_and_a_resent_usage_event_are_counted(
    gateway: Gateway,
) -> None:
    assert (await deliver(gateway, event("evt_dup"))).json()["duplicate"] is False
    assert (await deliver(gateway, event("evt_dup"))).json()["duplicate"] is True
    usage = await metered_subscription(gateway.sessionmaker)
    meter = await gateway.client_with(["usage:write"], client_id="test-meter")
    await send(meter, usage.event("u-1"), usage.event("u-1"))  # a copy within the batch
    await send(meter, usage.event("u-1"))  # and sent again
    assert await counts(gateway) == {
        DuplicateSource.BILLING_WEBHOOK: 1,
        DuplicateSource.USAGE_EVENT: 2,
    }
