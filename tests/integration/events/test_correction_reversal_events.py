"""The events of corrections and payment reversals, and the partner of the customer on
invoice, payment and credit memo events (both databases)."""

from __future__ import annotations

from app.seed import demo_id
from tests.conftest import Gateway
from tests.integration.events.test_domain_events import last_sequence, recorded, short
from tests.integration.test_credit_memos import APPROVER, posted_invoice
from tests.integration.test_invoice_corrections import correct
from tests.integration.test_payment_reversals import REVERSER, reverse
from tests.integration.test_settlements import NORTHWIND, pay, product_invoice
from tests.support.invoices import invoice_body

GLOBEX = demo_id("customer", 2)  # USD, attributed to no partner


async def test_invoice_and_payment_events_carry_the_customers_partner(gateway: Gateway) -> None:
    invoice = await posted_invoice(gateway, product_invoice())  # a Northwind customer's
    direct = await posted_invoice(gateway, invoice_body(GLOBEX))  # a customer of no partner
    assert (await pay(gateway, invoice, invoice["total"], "p1")).status_code == 201
    partners = {(e["subject"], short(e["type"])): e["partnerid"] for e in await recorded(gateway)}
    assert partners[(invoice["id"], "invoice.registered")] == NORTHWIND
    assert partners[(invoice["id"], "invoice.posted")] == NORTHWIND
    assert partners[(direct["id"], "invoice.registered")] is None
    assert partners[(direct["id"], "invoice.posted")] is None
    [applied] = [p for (_, kind), p in partners.items() if kind == "payment.applied"]
    assert applied == NORTHWIND


async def test_a_correction_is_requested_approved_and_posted(gateway: Gateway) -> None:
    invoice = await posted_invoice(gateway, product_invoice())
    mark = await last_sequence(gateway)
    lead = await gateway.client_with(APPROVER, client_id="finance-lead")
    memo = (await correct(lead, invoice["id"], "c1")).json()
    assert memo["status"] == "requested"
    controller = await gateway.client_with(APPROVER, client_id="controller")
    approve = f"/v1/credit-memos/{memo['id']}/approve"
    for _ in range(2):  # the approval repeated records nothing more
        approved = await controller.post(approve, json={}, headers={"Idempotency-Key": "a1"})
        assert approved.json()["status"] == "posted", approved.text
    assert (await correct(lead, invoice["id"], "c1")).json()["id"] == memo["id"]

    events = [e for e in await recorded(gateway, after=mark) if e["subject"] == memo["id"]]
    assert [short(e["type"]) for e in events] == [
        "credit_memo.requested",
        "credit_memo.approved",
        "credit_memo.posted",
    ]
    assert {e["data"]["kind"] for e in events} == {"correction"}
    assert {e["partnerid"] for e in events} == {NORTHWIND}
    assert events[2]["data"]["erp_document_number"]
    assert events[2]["data"]["amount"] == memo["amount"]
    await lead.aclose()
    await controller.aclose()


async def test_a_reversal_records_the_payment_reversed_and_each_claw_back(
    gateway: Gateway,
) -> None:
    invoice = await posted_invoice(gateway, product_invoice())
    paid = (await pay(gateway, invoice, invoice["total"], "p1")).json()
    earned = {
        e["subject"]: e["data"]
        for e in await recorded(gateway)
        if short(e["type"]) == "commission.earned"
    }
    mark = await last_sequence(gateway)
    reverser = await gateway.client_with(REVERSER, client_id="finance-reverser")
    for key in ("r1", "r2"):  # a second reversal answers it reversed and records nothing
        assert (await reverse(reverser, paid["id"], key)).status_code in (200, 201)
    reversed_, *clawed = await recorded(gateway, after=mark)
    assert short(reversed_["type"]) == "payment.reversed"
    assert (reversed_["subject"], reversed_["partnerid"]) == (paid["id"], NORTHWIND)
    assert reversed_["data"]["amount"] == invoice["total"]
    assert reversed_["data"]["reason"] == "cheque bounced"
    assert reversed_["data"]["reversal_document_number"]
    assert reversed_["data"]["invoice_status"] == "posted"  # it owes again
    assert {short(e["type"]) for e in clawed} == {"commission.clawed_back"}
    assert {e["data"]["reverses_line_id"] for e in clawed} == set(earned)
    for event in clawed:
        original = earned[event["data"]["reverses_line_id"]]
        assert event["data"]["commission_amount"] == -original["commission_amount"]
        assert event["partnerid"] == NORTHWIND
    await reverser.aclose()
