"""A quote accepted in the CRM: its signed `quote.accepted` event places the ERP sales
order as `POST /v1/orders` does, once per event; on SQLite and PostgreSQL, both ERPs."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from core.errors import PROBLEM_BASE_URI
from core.models.sales_order import SalesOrderRow
from sandboxes import crm
from sandboxes.crm.webhooks import deliver_events
from sandboxes.stripe import signature_header
from tests.conftest import Gateway
from tests.integration.test_sales_orders import LINES, NET, TODAY
from tests.support.erps import ErpCase
from tests.support.invoices import ACME

URL = "http://gateway.test/webhooks/crm/channel"
SECRET = "whsec_sandbox"  # the gateway's default `LEDGERGATE_CRM__WEBHOOK_SECRET`


def crm_state(gateway: Gateway) -> crm.CrmState:
    state = gateway.backends.crm_sandbox
    assert state is not None
    return state


@asynccontextmanager
async def channel_api(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway's CRM sandbox over its API, sending its events to the gateway."""
    state = crm_state(gateway)
    state.webhook_endpoints.append(crm.WebhookEndpoint(url=URL, secret=SECRET, app=gateway.app))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=crm.create_app(state)),
        base_url=f"http://crm.test{crm.API_ROOT}",
        headers={"Authorization": "Bearer sandbox-token"},
    ) as client:
        yield client


async def accepted_quote(client: httpx.AsyncClient) -> str:
    """A quote for the sales-order tests' lines, accepted by the customer."""
    lines = [{"priceRef": line["price_id"], "quantity": line["quantity"]} for line in LINES]
    body = {"customerRef": ACME, "serviceStart": TODAY.isoformat(), "lines": lines}
    created = await client.post("/quotes", json=body, headers={"Idempotency-Key": "q-1"})
    assert created.status_code == 201, created.text
    quote_id: str = created.json()["id"]
    accepted = await client.post(f"/quotes/{quote_id}/accept")
    assert accepted.status_code == 200, accepted.text
    return quote_id


async def orders(gateway: Gateway) -> list[SalesOrderRow]:
    async with gateway.sessionmaker() as session:
        return list(await session.scalars(select(SalesOrderRow)))


async def test_an_accepted_quote_event_becomes_one_erp_sales_order(erp_case: ErpCase) -> None:
    gateway = erp_case.gateway
    state = crm_state(gateway)
    async with channel_api(gateway) as client:
        quote_id = await accepted_quote(client)
        # accepting again records no second event
        assert (await client.post(f"/quotes/{quote_id}/accept")).status_code == 200

    [event] = state.events
    [order] = await orders(gateway)
    assert (order.quote_ref, order.customer_id, order.status) == (quote_id, ACME, "in_service")
    assert erp_case.sales_order(order.id) == (2, NET)
    assert state.webhook_attempts == [(event["id"], 201)]

    # the same event again (a redelivery, a replay): the first answer, no second order
    await deliver_events(state, [event])
    assert state.webhook_attempts[-1] == (event["id"], 201)
    assert [o.id for o in await orders(gateway)] == [order.id]
    assert erp_case.sales_order(order.id) == (2, NET)


def signed(payload: bytes, secret: str = SECRET) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "Channel-Signature": signature_header(payload, secret, int(time.time())),
    }


def quote_event(**data: Any) -> bytes:
    quote = {
        "id": "Q-9",
        "customerRef": ACME,
        "serviceStart": TODAY.isoformat(),
        "status": "accepted",
        "lines": [{"priceRef": LINES[0]["price_id"], "quantity": 1}],
        **data,
    }
    event = {"id": "evt_1", "type": "quote.accepted", "createdAt": "2026-12-01T00:00:00Z"}
    return json.dumps({**event, "data": quote}).encode()


@pytest.mark.parametrize(
    ("payload", "secret", "slug"),
    [
        (quote_event(), None, "webhook-signature-header-invalid"),
        (quote_event(), "whsec_other", "webhook-signature-mismatch"),
        (b'{"id": "evt_1"}', SECRET, "channel-event-invalid"),
        (quote_event(status="draft"), SECRET, "channel-event-invalid"),
        (quote_event(customerRef="acme"), SECRET, "channel-event-invalid"),
    ],
    ids=["unsigned", "another-secret", "not-an-event", "not-accepted", "not-an-order"],
)
async def test_an_unsigned_or_malformed_event_is_a_problem_and_orders_nothing(
    gateway: Gateway, payload: bytes, secret: str | None, slug: str
) -> None:
    # Signed now, not when the module was collected: a signature ages out of the tolerance.
    headers = {"Content-Type": "application/json"} if secret is None else signed(payload, secret)
    response = await gateway.anonymous.post(
        "/webhooks/crm/channel", content=payload, headers=headers
    )

    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == PROBLEM_BASE_URI + slug
    assert await orders(gateway) == []
