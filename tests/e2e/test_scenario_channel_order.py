"""Reference scenario (a): a channel order to the partner's settlement, through the HTTP API.

A reseller registers the deal for a new customer in the CRM and the CRM approves it; the
order (`POST /v1/subscriptions`) checks the partner's eligibility, starts the subscription
in billing, which invoices its first period and collects it at once, and grants the
support entitlement. Billing's signed `invoice.finalized` and `invoice.paid` deliveries
reach the gateway's webhook; the inbox worker registers the subscription's invoice,
posts it to the ERP and applies the payment there, rating the partner's commission.
The month's settlement journals the commission in the ERP, with the lineage from the
payment back to the invoice line, the subscription, the deal and the rate card; its
revenue recognition journals what the invoice earned in the month, and the month
reconciles clean.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from app.seed import demo_id
from process_apis.worker import BackgroundWork
from sandboxes import stripe
from tests.conftest import Gateway
from tests.support.calendar import months_later
from tests.support.invoices import US_COMPANY

FABRIKAM = demo_id("partner", 2)
PRO, PRO_USD = demo_id("product", 1), demo_id("price", 11)
PERIOD = date.today().strftime("%Y-%m")
WEBHOOK_URL = "http://gateway.test/webhooks/billing/stripe"
SEATS, SEAT_PRICE = 5, 4900


async def test_channel_order_to_partner_settlement_and_erp_journal(gateway: Gateway) -> None:
    internal = await gateway.client_with(["system:crm"], client_id="channel-platform")
    finance = await gateway.client_with(
        ["settlements:write", "settlements:read", "invoices:read", "ops:read", "ops:write"],
        client_id="finance-ops",
    )
    billing = gateway.backends.billing_sandbox
    assert billing is not None
    billing.webhook_endpoints.append(
        stripe.WebhookEndpoint(url=WEBHOOK_URL, secret="whsec_sandbox", app=gateway.app)
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
        headers={"Idempotency-Key": "hooli"},
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

    # the order: Pro seats, the partner eligible through the approved deal registration
    ordered = await gateway.client.post(
        "/v1/subscriptions",
        json={"customer_id": customer_id, "price_id": PRO_USD, "quantity": SEATS},
        headers={"Idempotency-Key": "order-1"},
    )
    assert ordered.status_code == 201, ordered.text
    subscription = ordered.json()["subscription"]
    assert (subscription["status"], subscription["partner_id"]) == ("active", FABRIKAM)
    assert subscription["refs"]["crm"] == deal["id"]
    billed_subscription = billing.subscriptions[subscription["refs"]["billing"]]
    billed = billing.invoices[billed_subscription["latest_invoice"]]
    assert (billed["status"], billed["amount_paid"]) == ("paid", SEATS * SEAT_PRICE)
    # billing's signed deliveries are in the inbox; the worker's cycle acts on them
    delivered = [e["type"] for e in billing.events if e["data"]["object"]["id"] == billed["id"]]
    assert delivered == ["invoice.finalized", "invoice.paid"]
    report = await BackgroundWork(gateway.app.state.process).inbox.drain()
    assert report.consumed == 2
    [invoice_id], [payment_id] = report.invoices, report.payments

    # the subscription's invoice: registered from billing and posted to the ERP
    invoice = (await finance.get(f"/v1/invoices/{invoice_id}")).json()
    assert (invoice["subscription_id"], invoice["refs"]["billing"]) == (
        subscription["id"],
        billed["id"],
    )
    assert [
        (li["quantity"], li["unit_amount"], li["product_id"], li["tax_code"], li["tax_amount"])
        for li in invoice["lines"]
    ] == [(SEATS, SEAT_PRICE, PRO, "EXEMPT", 0)]  # billing charged no tax; the ERP books none
    assert invoice["total"] == SEATS * SEAT_PRICE
    assert invoice["posting"]["erp_document_number"] is not None
    again = await gateway.client.post(
        f"/v1/invoices/{invoice_id}/postings", json={}, headers={"Idempotency-Key": "post-1"}
    )
    assert again.status_code == 200, again.text  # already posted by the inbox: nothing re-sent
    erp_invoice_id = invoice["posting"]["erp_document_id"]

    # the payment billing collected: applied in the ERP, commission rated on it
    payment = (await finance.get(f"/v1/payments/{payment_id}")).json()
    assert (payment["source"], payment["status"], payment["amount"]) == (
        "billing",
        "applied",
        SEATS * SEAT_PRICE,
    )
    assert [(c["product_tier"], c["commission_amount"]) for c in payment["commission_lines"]] == [
        ("pro", SEATS * SEAT_PRICE // 10)
    ]

    # the month's settlement, once it has ended: one statement for Fabrikam, journaled in the ERP
    months_later(gateway.app)
    run = await finance.post(
        "/v1/settlement-runs", json={"period": PERIOD}, headers={"Idempotency-Key": "stl-1"}
    )
    assert run.status_code == 201, run.text
    [statement] = run.json()["settlements"]
    total = SEATS * SEAT_PRICE // 10
    assert (statement["partner_id"], statement["total_commission"], statement["status"]) == (
        FABRIKAM,
        total,
        "posted",
    )
    lineage = (await finance.get(f"/v1/settlements/{statement['id']}/lineage")).json()["items"]
    assert [
        (
            e["payment"]["id"],
            e["invoice_line"]["invoice_id"],
            e["invoice_line"]["line_id"],
            e["invoice_line"]["subscription_id"],
            e["attribution"]["deal_registration_id"],
            e["rate_card"]["plan_code"],
            e["rate_card"]["rate_bps"],
            e["commission"]["amount"],
            e["statement"]["journal_document_number"],
        )
        for e in lineage
    ] == [
        (
            payment_id,
            invoice_id,
            invoice["lines"][0]["id"],
            subscription["id"],
            deal["id"],
            "referral-10",
            1000,
            total,
            statement["journal_document_number"],
        )
    ]

    # ERP: the invoice keyed by our id, the payment applied to it, the balanced journal
    erp = gateway.backends.erp_sandbox
    assert erp is not None
    book = erp.books[US_COMPANY]
    erp_invoice = book.invoices[erp_invoice_id]
    assert erp_invoice.external_document_number == invoice_id
    net = Decimal(SEATS * SEAT_PRICE) / 100
    # The ERP books what billing charged, and the payment settles it in full.
    assert (erp_invoice.total_including_tax, erp_invoice.total_tax) == (net, 0)
    assert erp_invoice.remaining_amount == 0
    [erp_payment] = [p for j in book.payment_journals.values() for p in j.payments]
    assert (erp_payment.external_document_number, erp_payment.invoice, erp_payment.amount) == (
        payment_id,
        erp_invoice,
        net,
    )
    journal = [
        (e.account_number, e.debit_amount, e.credit_amount)
        for e in erp.ledger(US_COMPANY)
        if e.document_number == statement["journal_document_number"]
    ]
    assert journal == [("60100", Decimal(total) / 100, 0), ("21500", 0, Decimal(total) / 100)]
    # the month's revenue: the subscription's invoice serves billing's period, recognized
    recognition = await finance.post(
        "/ops/v1/revenue/recognition-runs",
        json={"legal_entity_id": demo_id("legal_entity", 1), "period": PERIOD},
        headers={"Idempotency-Key": "rev-1"},
    )
    assert recognition.status_code == 201, recognition.text
    assert [run["status"] for run in recognition.json()["runs"]] == ["posted"]
    reconciliation = await finance.get(
        "/ops/v1/reconciliation",
        params={"period": PERIOD, "legal_entity": demo_id("legal_entity", 1)},
    )
    assert reconciliation.status_code == 200, reconciliation.text
    assert reconciliation.json()["clean"], reconciliation.json()["differences"]
    # CRM: the registration the eligibility and the commission rest on, the plan rated with
    crm = gateway.backends.crm_sandbox
    assert crm is not None
    assert crm.registrations[deal["id"]].status == "approved"
    assert crm.partners[FABRIKAM].commission_plan == "referral-10"
    assert len(crm.plans["referral-10"].rate_cards) == 1
    # billing: the subscription keyed by ours, its first period invoiced and paid
    assert billed_subscription["metadata"]["ledgergate_id"] == subscription["id"]
    assert (billed_subscription["status"], billed_subscription["items"]["data"][0]["quantity"]) == (
        "active",
        SEATS,
    )
    assert [i["id"] for i in billing.invoices.values()] == [billed["id"]]
    # support: the Pro entitlement the order granted
    support = gateway.backends.support_sandbox
    assert support is not None
    assert [(e.product_ref, e.tier, e.active) for e in support.entitlements.values()] == [
        (PRO, "pro", True)
    ]
    await internal.aclose()
    await finance.aclose()
