"""Each workflow's state changes as canonical events, with their data (both databases)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from core.models.event_outbox import EventOutboxRow
from tests.conftest import Gateway
from tests.integration.test_credit_memos import (
    APPROVER,
    approve,
    credit_body,
    open_case,
    posted_invoice,
    request_credit,
)
from tests.integration.test_customer_sync import create, update
from tests.integration.test_reconciliation import reconciliation
from tests.integration.test_settlements import (
    NORTHWIND,
    SETTLER,
    pay,
    product_invoice,
    run_settlements,
)
from tests.integration.test_subscriptions import ordered
from tests.support.calendar import months_later


def short(event_type: str) -> str:
    """`invoice.posted` of `com.ledgergate.invoice.posted.v1`."""
    return ".".join(event_type.split(".")[2:4])


async def recorded(gateway: Gateway, *, after: int = 0) -> list[dict[str, Any]]:
    """The envelopes recorded after sequence `after`, in order."""
    async with gateway.sessionmaker() as session:
        rows = await session.scalars(
            select(EventOutboxRow)
            .where(EventOutboxRow.sequence > after)
            .order_by(EventOutboxRow.sequence)
        )
        return [row.envelope for row in rows]


async def last_sequence(gateway: Gateway) -> int:
    async with gateway.sessionmaker() as session:
        rows = await session.scalars(select(EventOutboxRow.sequence))
        return max(rows.all(), default=0)


async def test_a_payment_its_commissions_and_their_settlement(gateway: Gateway) -> None:
    invoice = await posted_invoice(gateway, product_invoice())
    mark = await last_sequence(gateway)
    assert (await pay(gateway, invoice, invoice["total"], "p1")).status_code == 201
    paid = await recorded(gateway, after=mark)
    assert [short(e["type"]) for e in paid] == [
        "payment.applied",
        "commission.earned",
        "commission.earned",
    ]
    applied, *earned = paid
    assert applied["data"]["amount"] == invoice["total"]
    assert applied["data"]["erp_document_number"]
    assert {e["partnerid"] for e in earned} == {NORTHWIND}
    assert all(e["data"]["commission_amount"] > 0 for e in earned)

    settler = await gateway.client_with(SETTLER)
    months_later(gateway.app)
    mark = await last_sequence(gateway)
    [statement] = (await run_settlements(settler, "s1")).json()["settlements"]
    [posted] = [e for e in await recorded(gateway, after=mark) if "settlement" in e["type"]]
    assert short(posted["type"]) == "settlement.posted"
    assert posted["subject"] == statement["id"]
    assert posted["data"]["total_commission"] == statement["total_commission"]
    assert posted["data"]["total_commission"] == sum(e["data"]["commission_amount"] for e in earned)

    mark = await last_sequence(gateway)
    reversal = await settler.post(
        f"/v1/settlements/{statement['id']}/reversals",
        json={"reason": "wrong partner"},
        headers={"Idempotency-Key": "r1"},
    )
    assert reversal.status_code in (200, 201), reversal.text
    [reversed_] = await recorded(gateway, after=mark)
    assert short(reversed_["type"]) == "settlement.reversed"
    assert reversed_["data"]["reversal_document_number"]
    await settler.aclose()


async def test_a_credit_requested_approved_and_posted(gateway: Gateway) -> None:
    invoice = await posted_invoice(gateway)
    case_id = await open_case(gateway)
    mark = await last_sequence(gateway)
    memo = (
        await request_credit(gateway.client, credit_body(invoice["id"], case_id, 15000), "k")
    ).json()
    approver = await gateway.client_with(APPROVER, client_id="finance-approver")
    assert (await approve(approver, memo["id"], "a1")).status_code == 200
    events = [e for e in await recorded(gateway, after=mark) if e["subject"] == memo["id"]]
    assert [short(e["type"]) for e in events] == [
        "credit_memo.requested",
        "credit_memo.approved",
        "credit_memo.posted",
    ]
    assert events[1]["data"]["approved_by"] == "finance-approver"
    assert events[2]["data"]["amount"] == 15000
    assert events[2]["data"]["erp_document_number"]
    await approver.aclose()


async def test_an_order_and_its_cancellation(gateway: Gateway) -> None:
    mark = await last_sequence(gateway)
    subscription = (await ordered(gateway))["subscription"]
    ordered_events = await recorded(gateway, after=mark)
    kinds = [short(e["type"]) for e in ordered_events]
    assert kinds.count("subscription.created") == 1
    granted = [e for e in ordered_events if short(e["type"]) == "entitlement.granted"]
    assert {e["data"]["feature"] for e in granted} == {"api_access", "priority_support", "webhooks"}

    mark = await last_sequence(gateway)
    path = f"/v1/subscriptions/{subscription['id']}/cancel"
    assert (await gateway.client.post(path, json={}, headers={"Idempotency-Key": "c"})).is_success
    canceled = await recorded(gateway, after=mark)
    assert sorted(short(e["type"]) for e in canceled) == [
        *["entitlement.revoked"] * 3,
        "subscription.canceled",
    ]
    assert {e["data"]["status"] for e in canceled} == {"revoked", "canceled"}


async def test_a_customer_created_then_updated(gateway: Gateway) -> None:
    created = (await create(gateway, "c1")).json()
    updated = await update(gateway, created["id"], "u1", name="Hooli Europe AG")
    assert updated.status_code == 200, updated.text
    events = [e for e in await recorded(gateway) if e["subject"] == created["id"]]
    assert [short(e["type"]) for e in events] == ["customer.created", "customer.updated"]
    assert events[0]["data"]["version"] == 1
    assert events[1]["data"]["version"] > 1  # the version the update committed
    assert events[1]["data"]["name"] == "Hooli Europe AG"


async def test_a_reconciliation_completed_with_its_difference_count(gateway: Gateway) -> None:
    await posted_invoice(gateway)
    body = await reconciliation(gateway)
    [completed] = [
        e for e in await recorded(gateway) if short(e["type"]) == "reconciliation.completed"
    ]
    assert completed["subject"] == body["id"]
    assert completed["data"]["difference_count"] == body["difference_count"]
    assert completed["data"]["clean"] is body["clean"]
