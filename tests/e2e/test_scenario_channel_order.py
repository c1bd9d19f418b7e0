"""Reference scenario (a): a channel order to the partner's settlement, through the HTTP API.

A reseller registers the deal for a new customer in the CRM and the CRM approves it;
the customer is registered and invoiced, the invoice is posted to the ERP, paid, and
the month's settlement journals the partner's commission in the ERP, with the lineage
from payment to statement. The order → subscription step (billing subscription and
entitlements) is built separately: once it joins, the invoice comes from the
subscription instead of `POST /v1/invoices`, and the rest of the scenario is the same.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from app.seed import demo_id
from tests.conftest import Gateway
from tests.support.invoices import US_COMPANY, invoice_body

FABRIKAM = demo_id("partner", 2)
PRO, ENTERPRISE = demo_id("product", 1), demo_id("product", 2)
PERIOD = date.today().strftime("%Y-%m")


async def test_channel_order_to_partner_settlement_and_erp_journal(gateway: Gateway) -> None:
    internal = await gateway.client_with(["system:crm"], client_id="channel-platform")
    finance = await gateway.client_with(
        ["settlements:write", "settlements:read", "invoices:read"], client_id="finance-ops"
    )

    # the channel: a customer attributed to Fabrikam, its deal registered and approved
    customer = await gateway.client.post(
        "/v1/customers",
        json={
            "name": "Hooli Inc.",
            "email": "ap@hooli.example",
            "legal_entity_id": demo_id("legal_entity", 1),
            "currency": "USD",
            "partner_id": FABRIKAM,
        },
    )
    assert customer.status_code == 201, customer.text
    customer_id = customer.json()["id"]
    registered = await internal.post(
        "/system/crm/v1/deal-registrations",
        json={
            "partner_id": FABRIKAM,
            "customer_id": customer_id,
            "product_tiers": ["pro", "enterprise"],
            "expires_on": (date.today() + timedelta(days=365)).isoformat(),
        },
        headers={"Idempotency-Key": f"deal-{customer_id}"},
    )
    assert registered.status_code == 201, registered.text
    deal = registered.json()
    decided = await internal.post(
        f"/system/crm/v1/deal-registrations/{deal['id']}/decision", json={"decision": "approve"}
    )
    assert decided.json()["status"] == "approved"

    # the order's invoice: Pro seats and the Enterprise add-on, posted to the ERP
    body = invoice_body(
        customer_id,
        lines=(
            ("Ledgergate Pro, monthly", 5, 4900, "STANDARD"),
            ("Ledgergate Enterprise add-on", 1, 19900, "STANDARD"),
        ),
    )
    body["lines"][0]["product_id"], body["lines"][1]["product_id"] = PRO, ENTERPRISE
    invoice = (await gateway.client.post("/v1/invoices", json=body)).json()
    posting = await gateway.client.post(
        f"/v1/invoices/{invoice['id']}/postings", json={}, headers={"Idempotency-Key": "post-1"}
    )
    assert posting.status_code == 201, posting.text
    erp_invoice_id = posting.json()["posting"]["erp_document_id"]

    # the customer pays: applied in the ERP, commission rated on the payment date
    paid = await gateway.client.post(
        f"/v1/invoices/{invoice['id']}/payments",
        json={"amount": invoice["total"], "currency": "USD", "reference": "ACH-7781"},
        headers={"Idempotency-Key": "pay-1"},
    )
    assert paid.status_code == 201, paid.text
    payment = paid.json()
    assert {(c["product_tier"], c["commission_amount"]) for c in payment["commission_lines"]} == {
        ("pro", 24500 // 10),
        ("enterprise", 19900 // 10),
    }

    # the month's settlement: one statement for Fabrikam, journaled in the ERP
    run = await finance.post(
        "/v1/settlement-runs", json={"period": PERIOD}, headers={"Idempotency-Key": "stl-1"}
    )
    assert run.status_code == 201, run.text
    [statement] = run.json()["settlements"]
    total = 2450 + 1990
    assert (statement["partner_id"], statement["total_commission"], statement["status"]) == (
        FABRIKAM,
        total,
        "posted",
    )
    lineage = (await finance.get(f"/v1/settlements/{statement['id']}/lineage")).json()["items"]
    assert {
        (
            e["payment"]["id"],
            e["invoice_line"]["invoice_id"],
            e["attribution"]["deal_registration_id"],
            e["rate_card"]["plan_code"],
            e["rate_card"]["rate_bps"],
            e["statement"]["journal_document_number"],
        )
        for e in lineage
    } == {
        (
            payment["id"],
            invoice["id"],
            deal["id"],
            "referral-10",
            1000,
            statement["journal_document_number"],
        )
    }
    assert {e["commission"]["amount"] for e in lineage} == {2450, 1990}

    # ERP: the invoice posted and paid by the payment; the balanced settlement journal
    erp = gateway.backends.erp_sandbox
    assert erp is not None
    book = erp.books[US_COMPANY]
    assert book.invoices[erp_invoice_id].status == "Paid"
    assert book.invoices[erp_invoice_id].remaining_amount == 0
    [erp_payment] = [p for j in book.payment_journals.values() for p in j.payments]
    assert (erp_payment.external_document_number, erp_payment.invoice) == (
        payment["id"],
        book.invoices[erp_invoice_id],
    )
    journal = [
        (e.account_number, e.debit_amount, e.credit_amount)
        for e in erp.ledger(US_COMPANY)
        if e.document_number == statement["journal_document_number"]
    ]
    assert journal == [("60100", Decimal(total) / 100, 0), ("21500", 0, Decimal(total) / 100)]
    # CRM: the registration the commission rests on, and the plan version it was rated with
    crm = gateway.backends.crm_sandbox
    assert crm is not None
    assert crm.registrations[deal["id"]].status == "approved"
    assert crm.partners[FABRIKAM].commission_plan == "referral-10"
    assert len(crm.plans["referral-10"].rate_cards) == 1
    # billing: the order was not billed there (no subscription yet): nothing to reconcile
    assert gateway.backends.billing_sandbox is not None
    assert gateway.backends.billing_sandbox.invoices == {}
    await internal.aclose()
    await finance.aclose()
