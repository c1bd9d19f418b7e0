"""`GET /ops/v1/events`: recorded events by type, subject and time, newest first."""

from __future__ import annotations

from datetime import timedelta

from core.models.base import utcnow
from tests.conftest import Gateway
from tests.support.invoices import invoice_body

REGISTERED = "com.ledgergate.invoice.registered.v1"


async def test_events_are_listed_filtered_and_paged(gateway: Gateway) -> None:
    ids = [
        (await gateway.client.post("/v1/invoices", json=invoice_body())).json()["id"]
        for _ in range(3)
    ]
    ops = await gateway.client_with(["ops:read"])
    first = await ops.get("/ops/v1/events", params={"type": REGISTERED, "limit": 2})
    assert first.status_code == 200, first.text
    page = first.json()
    assert [item["event"]["subject"] for item in page["items"]] == ids[:0:-1]
    assert page["items"][0]["sequence"] > page["items"][1]["sequence"]
    assert page["items"][0]["published_at"] is None  # no relay has run
    rest = await ops.get(
        "/ops/v1/events", params={"type": REGISTERED, "cursor": page["next_cursor"]}
    )
    assert [item["event"]["subject"] for item in rest.json()["items"]] == ids[:1]
    assert rest.json()["next_cursor"] is None

    one = await ops.get("/ops/v1/events", params={"subject": ids[1]})
    assert [item["event"]["id"] for item in one.json()["items"]] == [
        page["items"][1]["event"]["id"]
    ]
    later = (utcnow() + timedelta(minutes=1)).isoformat()
    assert (await ops.get("/ops/v1/events", params={"since": later})).json()["items"] == []
    await ops.aclose()


async def test_a_bad_cursor_or_type_is_a_problem_and_the_scope_is_required(
    gateway: Gateway,
) -> None:
    ops = await gateway.client_with(["ops:read"])
    cursor = await ops.get("/ops/v1/events", params={"cursor": "bm90LWEtbnVtYmVy"})
    assert cursor.status_code == 400
    assert cursor.headers["content-type"] == "application/problem+json"
    assert cursor.json()["type"].endswith("/invalid-cursor")
    wrong_type = await ops.get("/ops/v1/events", params={"type": "invoice.posted"})
    assert wrong_type.status_code == 422
    assert (await gateway.client.get("/ops/v1/events")).status_code == 403
    await ops.aclose()
