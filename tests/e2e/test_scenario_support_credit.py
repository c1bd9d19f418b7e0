"""Reference scenario (c): a support credit on an invoice already posted, through the HTTP API.

The invoice was billed by the billing engine (its `invoice.finalized` event links it to
the gateway's invoice) and posted to the ERP; the customer holds an Enterprise support
entitlement. An outage case ends in a downgrade credit above the approval threshold: a
support agent requests it, finance approves it, and the credit is issued everywhere:
the ERP credit memo applied to the posted invoice, the billing credit note, the desk's
service credit on the case, and the entitlement moved to Pro.
"""

from __future__ import annotations

from decimal import Decimal

from app.seed import demo_id
from process_apis.billing_inbox import BillingInbox
from sandboxes import stripe
from system_apis.http import InProcessTransport
from tests.conftest import Gateway
from tests.support.invoices import ACME, US_COMPANY, invoice_body
from tests.support.stripe_sandbox import create_invoice, sandbox_http

ENTERPRISE = demo_id("product", 2)
WEBHOOK_URL = "http://gateway.test/webhooks/billing/stripe"


async def test_support_credit_after_posting_approval_credit_note_erp_and_entitlements(
    gateway: Gateway,
) -> None:
    desk = await gateway.client_with(["system:support"], client_id="support-desk")
    agent = await gateway.client_with(
        ["credit_memos:write", "credit_memos:read"], client_id="agent"
    )
    finance = await gateway.client_with(["credit_memos:approve"], client_id="finance-approver")
    billing = await gateway.client_with(["system:billing"], client_id="billing-sync")
    stripe_state = gateway.backends.billing_sandbox
    assert stripe_state is not None
    stripe_state.webhook_endpoints.append(
        stripe.WebhookEndpoint(url=WEBHOOK_URL, secret="whsec_sandbox", app=gateway.app)
    )

    # the invoice: registered, posted to the ERP, and billed by the billing engine
    invoice = (await gateway.client.post("/v1/invoices", json=invoice_body())).json()
    posting = await gateway.client.post(
        f"/v1/invoices/{invoice['id']}/postings", json={}, headers={"Idempotency-Key": "post"}
    )
    assert posting.status_code == 201, posting.text
    erp_invoice_id = posting.json()["posting"]["erp_document_id"]
    customer = await billing.post(
        "/system/billing/v1/customers",
        json={"reference": ACME, "name": "Acme Robotics Inc.", "currency": "USD"},
        headers={"Idempotency-Key": "acme"},
    )
    assert customer.status_code == 201, customer.text
    async with sandbox_http(InProcessTransport(app=stripe.create_app(stripe_state))) as http:
        billed = await create_invoice(
            http,
            customer.json()["id"],
            amounts=(invoice["total"],),
            metadata={"ledgergate_id": invoice["id"]},
            finalize=True,
        )
    consumed = await BillingInbox(gateway.app.state.process).drain()  # the worker's cycle
    assert consumed.consumed == 1
    linked = (await gateway.client.get(f"/v1/invoices/{invoice['id']}")).json()
    assert linked["refs"]["billing"] == billed["id"]

    # the customer's entitlement and the outage case at the desk
    granted = await desk.post(
        f"/system/support/v1/customers/{ACME}/entitlements",
        json={"product_id": ENTERPRISE, "tier": "enterprise"},
        headers={"Idempotency-Key": "grant"},
    )
    assert granted.json()["tier"] == "enterprise", granted.text
    case = await desk.post(
        "/system/support/v1/cases",
        json={"customer_id": ACME, "subject": "Outage: API unavailable for six hours"},
        headers={"Idempotency-Key": "case"},
    )
    assert case.json()["priority"] == "P1"

    # the agent requests the credit; above 100.00 USD it waits for finance
    requested = await agent.post(
        "/v1/credit-memos",
        json={
            "invoice_id": invoice["id"],
            "amount": 12000,
            "currency": "USD",
            "reason_code": "plan_downgrade",
            "case_id": case.json()["id"],
            "note": "Moved to Pro after the outage",
            "entitlement_change": {"product_id": ENTERPRISE, "tier": "pro"},
        },
        headers={"Idempotency-Key": "credit"},
    )
    assert requested.status_code == 201, requested.text
    memo = requested.json()
    assert (memo["status"], memo["approval_required"]) == ("requested", True)
    assert (
        await agent.post(
            f"/v1/credit-memos/{memo['id']}/approve", json={}, headers={"Idempotency-Key": "a"}
        )
    ).status_code == 403
    approved = await finance.post(
        f"/v1/credit-memos/{memo['id']}/approve",
        json={"note": "Approved by finance"},
        headers={"Idempotency-Key": "approve"},
    )
    assert approved.status_code == 200, approved.text
    memo = approved.json()
    credited = 12000 + 1065  # 8.875 % US sales tax on the credited amount
    assert (memo["status"], memo["approved_by"], memo["erp_total_including_tax"]) == (
        "posted",
        "finance-approver",
        credited,
    )

    # ERP: the credit memo posted against the posted invoice and applied to it
    assert gateway.backends.erp_sandbox is not None
    book = gateway.backends.erp_sandbox.books[US_COMPANY]
    [erp_memo] = [m for m in book.credit_memos.values() if m.external_document_number == memo["id"]]
    assert (erp_memo.status, erp_memo.invoice) == ("Paid", book.invoices[erp_invoice_id])
    assert erp_memo.number == memo["erp_document_number"]
    owed = Decimal(invoice["total"] - credited) / 100
    assert book.invoices[erp_invoice_id].remaining_amount == owed
    # billing: the credit note on the billed invoice, for what the ERP credited
    [note] = stripe_state.credit_notes.values()
    assert (note["invoice"], note["amount"], note["metadata"]["ledgergate_id"]) == (
        billed["id"],
        credited,
        memo["id"],
    )
    assert memo["refs"]["billing"] == note["id"]
    # support: the approved service credit on the case, and the entitlement moved to Pro
    support = gateway.backends.support_sandbox
    assert support is not None
    [service_credit] = support.service_credits.values()
    assert (service_credit.ticket_id, service_credit.status) == (case.json()["id"], "approved")
    assert service_credit.amount == Decimal(120)
    entitlements = (await desk.get(f"/system/support/v1/customers/{ACME}/entitlements")).json()
    assert [(e["product_id"], e["tier"], e["status"]) for e in entitlements] == [
        (ENTERPRISE, "pro", "active")
    ]
    # the run that did it, step by step
    run = (await gateway.client.get(memo["run_url"])).json()
    assert [(s["name"], s["status"]) for s in run["steps"]] == [
        (name, "succeeded")
        for name in (
            "check_case",
            "check_entitlement",
            "create_erp_credit_memo",
            "post_erp_credit_memo",
            "issue_billing_credit_note",
            "request_service_credit",
            "approve_service_credit",
            "change_entitlement",
        )
    ]
    for client in (desk, agent, finance, billing):
        await client.aclose()
