"""A billing payment netted with the customer's credit balance, on SQLite and PostgreSQL,
on Business Central and NetSuite, driven by billing's own events: a support credit left
on the customer's balance (billing's credit note, the ERP's open credit memo) is taken off
the next renewal by billing, whose `invoice.paid` collects the rest in cash. In NetSuite
the payment settles the ERP invoice with the memo and the cash; Business Central's API
cannot apply a posted memo, so there nothing is applied and the payment waits in the
exception queue (never a partial success)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import select

from core.models.customer import CustomerRow
from core.models.invoice import InvoiceRow
from core.models.payment import PaymentRow
from core.models.workflow_run import RunStatus, WorkflowRunRow
from process_apis.payments.workflow import WORKFLOW
from process_apis.worker import replayer
from sandboxes import stripe
from tests.conftest import Gateway, GatewayFactory
from tests.integration.test_credit_memos import credit_body, open_case, request_credit
from tests.integration.test_exception_queue import ops_client
from tests.integration.test_partner_portal import partner_client
from tests.integration.test_payment_reversals import REVERSER, reverse
from tests.integration.test_reconciliation import reconciliation
from tests.integration.test_refunds import WEBHOOK_URL, stripe_api
from tests.integration.test_revenue_twelve_months import Calendar, invoice_ids, on
from tests.integration.test_subscriptions import billing, ordered
from tests.support.calendar import month
from tests.support.erps import ErpCase, on_erp
from tests.support.faults import LostAnswerTransport
from tests.support.runs import run_and_steps

ANCHOR_DAY = 10
CREDIT = 1_234
NO_APPROVAL = {"approval_thresholds": {"USD": 100_000_000}}


async def payment_run(gateway: Gateway, payment_id: str) -> tuple[WorkflowRunRow, dict[str, str]]:
    return await run_and_steps(gateway, WORKFLOW, payment_id)


async def payment_row(gateway: Gateway, payment_id: str) -> PaymentRow:
    async with gateway.sessionmaker() as session:
        return await session.get_one(PaymentRow, payment_id)


async def memo_not_applied(
    erp_case: ErpCase, renewal: dict[str, Any], payment: PaymentRow, memo_id: str
) -> WorkflowRunRow:
    """Business Central's API applies no posted memo: the payment's run failed as business
    at the memo's step, before the cash, and the renewal owes all of it still. The run."""
    gateway = erp_case.gateway
    run, steps = await payment_run(gateway, payment.id)
    assert (run.status, run.error_class) == ("failed", "business")
    assert "Apply Entries" in (run.error_detail or "")
    assert steps[f"apply_credit_memo:{memo_id}"] == "failed"
    assert "apply_payment" not in steps
    assert payment.id not in erp_case.payments()
    found = await gateway.backends.erp.get_sales_invoice(
        erp_case.company_id, renewal["refs"]["erp"]
    )
    assert found.remaining_amount == renewal["total"]
    return run


async def assert_settled(gateway: Gateway, invoice_id: str, *, cash: int, credit: int) -> None:
    """The invoice reads as paid by `cash` and by `credit` memos applied for its payments,
    owing nothing, in its resource (v1 and v2) and in its partner's portal alike."""
    invoice = (await gateway.client.get(f"/v1/invoices/{invoice_id}")).json()
    portal = (await portal_invoice(gateway, invoice_id))["payment"]
    # paid and owing nothing, wherever it is read
    assert invoice["status"] == portal["status"] == "paid", (invoice, portal)
    for shown in (invoice["credit"], portal):
        assert (shown["amount_paid"], shown["amount_due"]) == (cash, 0), shown
    assert invoice["credit"]["amount_credit_applied"] == portal["amount_credit_applied"] == credit
    v2 = (await gateway.client.get(f"/v2/invoices/{invoice_id}")).json()["credit"]
    assert [v2[name]["amount"] for name in ("paid", "credit_applied", "due")] == [cash, credit, 0]
    # the portal's payments add up to what it shows paid
    assert sum(p["amount_applied"] for p in portal["payments"]) == cash
    assert sum(p["credit_applied"] for p in portal["payments"]) == credit


async def owed(erp_case: ErpCase, invoice: dict[str, Any]) -> int:
    """What the invoice owes: the same in its resource, its partner's portal and the ERP."""
    gateway = erp_case.gateway
    resource = (await gateway.client.get(f"/v1/invoices/{invoice['id']}")).json()["credit"]
    portal = (await portal_invoice(gateway, invoice["id"]))["payment"]
    found = await gateway.backends.erp.get_sales_invoice(
        erp_case.company_id, invoice["refs"]["erp"]
    )
    assert resource["amount_due"] == portal["amount_due"] == found.remaining_amount
    return found.remaining_amount


async def portal_invoice(gateway: Gateway, invoice_id: str) -> dict[str, Any]:
    """The invoice as its customer's partner reads it in the portal."""
    async with gateway.sessionmaker() as session:
        invoice = await session.get_one(InvoiceRow, invoice_id)
        partner = (await session.get_one(CustomerRow, invoice.customer_id)).partner_id
    assert partner is not None
    client = await partner_client(gateway, partner)
    response = await client.get(f"/partner/v1/invoices/{invoice_id}")
    await client.aclose()
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def first_month_billed(
    gateway: Gateway, calendar: Calendar, order_key: str
) -> tuple[dict[str, Any], str]:
    """A monthly subscription of two seats ordered on the anchor day, its first invoice
    billed and its billing events delivered: (the subscription, its first invoice's id)."""
    state = billing(gateway)
    await calendar.start(on(0, ANCHOR_DAY))
    subscription: dict[str, Any] = (await ordered(gateway, order_key, quantity=2))["subscription"]
    state.webhook_endpoints.append(
        stripe.WebhookEndpoint(url=WEBHOOK_URL, secret="whsec_sandbox", app=gateway.app)
    )
    await stripe.deliver_events(state, list(state.events))
    await calendar.drain()
    [first_id] = await invoice_ids(gateway, subscription["id"])
    return subscription, first_id


async def renewal_netted_with_a_credit(
    erp_case: ErpCase,
    before_renewal: Callable[[], None] = lambda: None,
    *,
    amount: int = CREDIT,
    extra_credit: int = 0,
) -> tuple[dict[str, Any], dict[str, Any], PaymentRow]:
    """A monthly subscription billed and paid, a support credit on its invoice left to the
    customer's balance, then the renewal billing took the credit off: (the renewal
    invoice, the credit memo, the renewal's payment)."""
    gateway = erp_case.gateway
    state = billing(gateway)
    async with stripe_api(gateway) as stripe_client:
        calendar = Calendar(gateway, stripe_client)
        subscription, first_id = await first_month_billed(gateway, calendar, "order-netted")
        first = (await gateway.client.get(f"/v1/invoices/{first_id}")).json()
        assert first["status"] == "paid", first

        await calendar.to(on(0, ANCHOR_DAY + 5))
        case_id = await open_case(gateway, first["customer_id"])
        body = credit_body(first_id, case_id, amount, settlement="customer_balance")
        response = await request_credit(gateway.client, body, "netted-credit")
        assert response.status_code == 201, response.text
        memo: dict[str, Any] = response.json()
        assert (memo["status"], memo["settlement"]) == ("posted", "customer_balance"), memo
        assert erp_case.unapplied_credit(memo["id"]) == memo["erp_total_including_tax"]
        credit = memo["erp_total_including_tax"] + extra_credit

        before_renewal()
        await calendar.to(on(1, ANCHOR_DAY))
        [renewal_id] = await invoice_ids(gateway, subscription["id"]) - {first_id}
    renewal: dict[str, Any] = (await gateway.client.get(f"/v1/invoices/{renewal_id}")).json()
    billed = state.invoices[renewal["refs"]["billing"]]
    assert (billed["starting_balance"], billed["amount_paid"]) == (
        -credit,
        renewal["total"] - credit,
    )
    async with gateway.sessionmaker() as session:
        payment = await session.scalar(
            select(PaymentRow).where(PaymentRow.invoice_id == renewal_id)
        )
    assert payment is not None
    assert (payment.amount, payment.balance_applied) == (renewal["total"] - credit, credit)
    return renewal, memo, payment


async def test_a_payment_netted_with_the_customers_credit_applies_the_memo_and_the_cash(
    make_gateway: GatewayFactory,
) -> None:
    erp_case = await on_erp(make_gateway, "netsuite", credit_memos=NO_APPROVAL)
    gateway = erp_case.gateway
    renewal, memo, payment = await renewal_netted_with_a_credit(erp_case)

    # the cash and the open memo together pay the ERP invoice in full
    assert payment.status == "applied"
    run, steps = await payment_run(gateway, payment.id)
    assert run.status == "succeeded", (run.error_type, run.error_detail)
    assert steps[f"apply_credit_memo:{memo['id']}"] == "succeeded"
    assert steps["apply_payment"] == "succeeded"
    # the invoice owes nothing: the cash and the customer's credit paid it
    await assert_settled(
        gateway, renewal["id"], cash=payment.amount, credit=payment.balance_applied
    )
    erp = gateway.backends.erp
    found = await erp.get_sales_invoice(erp_case.company_id, renewal["refs"]["erp"])
    assert found.remaining_amount == 0
    # the memo is the customer's credit no more; the ERP took the cash once
    assert erp_case.unapplied_credit(memo["id"]) == 0
    assert erp_case.payments()[payment.id] == payment.amount

    # the API shows what the balance paid
    shown = (await gateway.client.get(f"/v1/payments/{payment.id}")).json()
    assert (shown["amount"], shown["balance_applied"]) == (payment.amount, payment.balance_applied)

    # reconciliation finds billing, the gateway and the ERP in agreement on every document
    # (no month was recognized here: deferred revenue is the revenue tests' subject)
    for period in (month(0), month(1)):
        body = await reconciliation(gateway, period)
        differences = [d for d in body["differences"] if d["document_type"] != "deferred_revenue"]
        assert differences == [], differences

    # a reversal takes back the cash alone: the memo stays applied, the invoice owes the cash
    reverser = await gateway.client_with(REVERSER, client_id="finance-reverser")
    reversed_ = await reverse(reverser, payment.id, "reverse-netted")
    await reverser.aclose()
    assert reversed_.status_code == 201, reversed_.text
    assert await owed(erp_case, renewal) == payment.amount


async def test_a_netted_payment_an_erp_cannot_apply_the_memo_for_applies_nothing(
    make_gateway: GatewayFactory,
) -> None:
    erp_case = await on_erp(make_gateway, "business_central", credit_memos=NO_APPROVAL)
    gateway = erp_case.gateway
    renewal, memo, payment = await renewal_netted_with_a_credit(erp_case)

    # Business Central's API applies no posted memo: the run fails before the cash too
    assert payment.status == "recorded"
    run = await memo_not_applied(erp_case, renewal, payment, memo["id"])
    assert erp_case.unapplied_credit(memo["id"]) == memo["erp_total_including_tax"]
    invoice = (await gateway.client.get(f"/v1/invoices/{renewal['id']}")).json()
    assert invoice["status"] == "posted"

    # it is in the exception queue, and a discard gives it up (nothing reached the ERP)
    ops = await ops_client(gateway)
    queue = (await ops.get("/ops/v1/exceptions", params={"error_class": "business"})).json()
    assert run.id in [item["id"] for item in queue["items"]], queue
    discarded = await ops.post(f"/ops/v1/exceptions/{run.id}/discard", json={"note": "by hand"})
    await ops.aclose()
    assert discarded.status_code == 200, discarded.text
    assert (await payment_row(gateway, payment.id)).status == "void"


async def test_a_netted_payment_interrupted_after_the_memo_resumes_without_applying_twice(
    make_gateway: GatewayFactory,
) -> None:
    lost: dict[str, LostAnswerTransport] = {}

    def wrap(name: str, inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        lost[name] = LostAnswerTransport(inner)
        return lost[name]

    erp_case = await on_erp(make_gateway, "netsuite", wrap=wrap, credit_memos=NO_APPROVAL)
    gateway = erp_case.gateway

    # the memo is applied, then the cash payment is created and its answer lost
    def lose_the_cash_answer() -> None:
        """The renewal's memo is applied, then its cash payment created, the answer lost."""
        lost[erp_case.backend].lose = lambda r: (
            r.method == "POST" and r.url.path.endswith("/!transform/customerPayment")
        )

    renewal, memo, payment = await renewal_netted_with_a_credit(erp_case, lose_the_cash_answer)
    assert lost[erp_case.backend].lost == 1
    assert payment.status == "recorded"
    run, steps = await payment_run(gateway, payment.id)
    assert run.status in ("pending_retry", "failed"), run.status
    assert steps[f"apply_credit_memo:{memo['id']}"] == "succeeded"
    assert erp_case.unapplied_credit(memo["id"]) == 0

    # the memo is in the ERP's books for it: the run is finished, never given up
    ops = await ops_client(gateway)
    refused = await ops.post(f"/ops/v1/exceptions/{run.id}/discard", json={"note": "no"})
    await ops.aclose()
    assert refused.status_code == 409, refused.text
    assert refused.json()["type"].endswith("/payment-in-ledger")

    assert await replayer(gateway.app.state.process).replay(run.id) == RunStatus.SUCCEEDED
    assert (await payment_row(gateway, payment.id)).status == "applied"
    found = await gateway.backends.erp.get_sales_invoice(
        erp_case.company_id, renewal["refs"]["erp"]
    )
    assert found.remaining_amount == 0
    # one cash payment, the memo applied once (its credit used up, not more)
    assert erp_case.payments()[payment.id] == payment.amount
    assert erp_case.unapplied_credit(memo["id"]) == 0
    invoice = (await gateway.client.get(f"/v1/invoices/{renewal['id']}")).json()
    assert invoice["status"] == "paid"


async def test_billing_credit_the_erp_holds_no_memo_for_is_an_exception_not_a_part_payment(
    make_gateway: GatewayFactory,
) -> None:
    erp_case = await on_erp(make_gateway, "netsuite", credit_memos=NO_APPROVAL)
    gateway = erp_case.gateway
    state = billing(gateway)

    def credit_granted_in_billing_alone() -> None:
        """More credit on the customer's balance than the ERP's open memo holds."""
        for customer in state.customers.values():
            if customer["balance"] < 0:
                customer["balance"] -= 500

    renewal, memo, payment = await renewal_netted_with_a_credit(
        erp_case, credit_granted_in_billing_alone, extra_credit=500
    )
    assert payment.status == "recorded"
    run, steps = await payment_run(gateway, payment.id)
    assert (run.status, run.error_type) == (
        "failed",
        "https://ledgergate.dev/problems/payment-balance-unmatched",
    )
    assert steps == {}  # refused before the ERP was called
    found = await gateway.backends.erp.get_sales_invoice(
        erp_case.company_id, renewal["refs"]["erp"]
    )
    assert found.remaining_amount == renewal["total"]
    assert erp_case.unapplied_credit(memo["id"]) == memo["erp_total_including_tax"]
    assert payment.id not in erp_case.payments()
    invoice = (await gateway.client.get(f"/v1/invoices/{renewal['id']}")).json()
    assert invoice["status"] == "posted"


async def test_a_renewal_the_credit_balance_paid_in_full_is_settled_by_the_memo_alone(
    make_gateway: GatewayFactory,
) -> None:
    erp_case = await on_erp(make_gateway, "netsuite", credit_memos=NO_APPROVAL)
    gateway = erp_case.gateway
    # the first invoice credited in full (it is untaxed): the renewal owes nothing in cash
    renewal, memo, payment = await renewal_netted_with_a_credit(erp_case, amount=9_800)
    assert (payment.amount, payment.balance_applied) == (0, renewal["total"])

    assert payment.status == "applied"
    run, steps = await payment_run(gateway, payment.id)
    assert run.status == "succeeded", (run.error_type, run.error_detail)
    assert steps[f"apply_credit_memo:{memo['id']}"] == "succeeded"
    assert "apply_payment" not in steps  # no cash, no customer payment in the ERP
    assert payment.id not in erp_case.payments()
    assert erp_case.unapplied_credit(memo["id"]) == 0
    found = await gateway.backends.erp.get_sales_invoice(
        erp_case.company_id, renewal["refs"]["erp"]
    )
    assert found.remaining_amount == 0
    await assert_settled(gateway, renewal["id"], cash=0, credit=renewal["total"])

    # nothing to reverse: the credit is undone by a document of its own
    reverser = await gateway.client_with(REVERSER, client_id="finance-reverser")
    reversal = await reverse(reverser, payment.id, "reverse-balance")
    await reverser.aclose()
    assert reversal.status_code == 409, reversal.text
    assert reversal.json()["type"].endswith("/payment-not-applied")

    for period in (month(0), month(1)):
        body = await reconciliation(gateway, period)
        differences = [d for d in body["differences"] if d["document_type"] != "deferred_revenue"]
        assert differences == [], differences
