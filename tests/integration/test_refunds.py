"""Refunds: billing's `charge.refunded` reaches the ERP as a customer refund and a credit
memo against the original invoice, and claws back the commission earned on the refunded
amount; on SQLite and PostgreSQL, on Business Central and NetSuite, with the sandboxes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from sqlalchemy import select

from core.models.commission_line import CommissionLineRow
from core.models.event_outbox import EventOutboxRow
from core.models.payment import PaymentRow
from core.models.refund import RefundRow
from core.models.workflow_run import RunStatus, WorkflowRunRow
from process_apis.billing_inbox import BillingInbox
from process_apis.payments.commissions import half_up
from process_apis.payments.refunds import WORKFLOW
from process_apis.worker import replayer
from sandboxes import stripe
from tests.conftest import Gateway, GatewayFactory
from tests.integration.test_payment_reversals import switchable
from tests.integration.test_subscriptions import billing, ordered
from tests.support.erps import ErpCase, on_erp
from tests.support.runs import run_and_steps

WEBHOOK_URL = "http://gateway.test/webhooks/billing/stripe"
CREDIT_MEMOS = "reditMemo"  # in the URL path of BC's salesCreditMemos and NetSuite's creditMemo


@asynccontextmanager
async def stripe_api(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway's billing sandbox over its API."""
    transport = httpx.ASGITransport(app=stripe.create_app(billing(gateway)))
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://stripe.test",
        headers={"Authorization": "Bearer sk_test_sandbox"},
    ) as client:
        yield client


async def paid_order(gateway: Gateway) -> PaymentRow:
    """An order billed and paid in billing, its payment applied in the ERP by the inbox;
    billing's events go to the gateway from now on (sent after the order's billing calls,
    so none of them waits for the gateway's own webhook)."""
    await ordered(gateway)
    state = billing(gateway)
    state.webhook_endpoints.append(
        stripe.WebhookEndpoint(url=WEBHOOK_URL, secret="whsec_sandbox", app=gateway.app)
    )
    await stripe.deliver_events(state, list(state.events))
    await BillingInbox(gateway.app.state.process).drain()
    async with gateway.sessionmaker() as session:
        payment = await session.scalar(select(PaymentRow))
    assert payment is not None
    assert payment.status == "applied"
    assert payment.charge_ref is not None
    return payment


async def refund(client: httpx.AsyncClient, payment: PaymentRow, amount: int) -> str:
    response = await client.post(
        "/v1/refunds",
        data={"charge": payment.charge_ref or "", "amount": str(amount)},
    )
    assert response.status_code == 200, response.text
    refund_id: str = response.json()["id"]
    return refund_id


async def refund_rows(gateway: Gateway) -> list[RefundRow]:
    async with gateway.sessionmaker() as session:
        return list(await session.scalars(select(RefundRow).order_by(RefundRow.created_at)))


async def lines(gateway: Gateway) -> list[CommissionLineRow]:
    async with gateway.sessionmaker() as session:
        return list(await session.scalars(select(CommissionLineRow)))


async def run_of(gateway: Gateway, refund_id: str) -> tuple[WorkflowRunRow, dict[str, str]]:
    return await run_and_steps(gateway, WORKFLOW, refund_id)


async def erp_invoice_remaining(erp: ErpCase, invoice_erp_ref: str) -> int:
    found = await erp.gateway.backends.erp.get_sales_invoice(erp.company_id, invoice_erp_ref)
    return found.remaining_amount


async def test_a_partial_refund_books_a_refund_and_a_credit_memo_and_claws_back_its_share(
    make_gateway: GatewayFactory, erp_kind: str
) -> None:
    case, erp = await switchable(make_gateway, erp_kind)
    gateway = case.gateway
    payment = await paid_order(gateway)
    earned = [line for line in await lines(gateway) if line.reverses_line_id is None]
    assert any(line.commission_amount > 0 for line in earned)
    inbox = BillingInbox(gateway.app.state.process)
    first_amount = payment.amount // 3

    async with stripe_api(gateway) as client:
        # halfway: the customer refund is booked, the ERP refuses the credit memo for now
        erp.down_for = CREDIT_MEMOS
        await refund(client, payment, first_amount)
        report = await inbox.drain()
        [first] = await refund_rows(gateway)
        assert report.refunds == [(await run_of(gateway, first.id))[0].id]
        assert first.status == "recorded"
        run, steps = await run_of(gateway, first.id)
        assert run.status == RunStatus.PENDING_RETRY
        assert steps["refund_payment"] == "succeeded"
        assert steps["create_erp_credit_memo"] == "failed"
        assert [line for line in await lines(gateway) if line.cause_id] == []

        erp.down_for = None
        assert await replayer(gateway.app.state.process).replay(run.id) == RunStatus.SUCCEEDED
        [first] = await refund_rows(gateway)
        assert first.status == "booked"
        assert first.erp_refund_document_number
        # the customer refund once, a credit memo of what was refunded, the invoice settled
        payments = case.payments()
        assert payments[first.id] == -first_amount
        memo = await gateway.backends.erp.find_sales_credit_memo(
            case.company_id, first.credit_memo_id or ""
        )
        assert memo is not None
        assert memo.total_including_tax == first_amount
        invoice = (await gateway.client.get(f"/v1/invoices/{payment.invoice_id}")).json()
        assert await erp_invoice_remaining(case, invoice["refs"]["erp"]) == 0
        assert invoice["credit"]["amount_credited"] == first_amount
        assert [m["kind"] for m in invoice["credit"]["credit_memos"]] == ["refund"]
        clawed = {line.reverses_line_id: line for line in await lines(gateway) if line.cause_id}
        for line in earned:
            share = clawed[line.id]
            assert share.cause_id == first.id
            assert share.commission_amount == -half_up(
                line.commission_amount * first_amount, payment.amount
            )
            assert (share.partner_id, share.invoice_line_id) == (
                line.partner_id,
                line.invoice_line_id,
            )

        # the rest refunded: the claw-backs add up to exactly what each line earned
        await refund(client, payment, payment.amount - first_amount)
        await inbox.drain()
        await inbox.drain()  # a redelivery or a second look records nothing twice
    refunds = await refund_rows(gateway)
    assert [r.status for r in refunds] == ["booked", "booked"]
    all_lines = await lines(gateway)
    for line in earned:
        taken = sum(c.commission_amount for c in all_lines if c.reverses_line_id == line.id)
        assert taken == -line.commission_amount
    assert len(case.payments()) == 3  # the payment and two customer refunds
    async with gateway.sessionmaker() as session:
        booked = await session.scalars(
            select(EventOutboxRow.type).where(EventOutboxRow.type.like("%refund.booked%"))
        )
        assert len(list(booked)) == 2


async def test_an_entity_that_books_the_credit_memo_alone_leaves_the_customer_a_credit(
    make_gateway: GatewayFactory,
) -> None:
    case = await on_erp(
        make_gateway, "business_central", ledger={"refund_policies": {"LG-US": "credit_memo"}}
    )
    gateway = case.gateway
    payment = await paid_order(gateway)
    async with stripe_api(gateway) as client:
        await refund(client, payment, payment.amount)
        await BillingInbox(gateway.app.state.process).drain()
    [booked] = await refund_rows(gateway)
    assert (booked.status, booked.policy, booked.erp_refund_document_number) == (
        "booked",
        "credit_memo",
        None,
    )
    assert len(case.payments()) == 1  # no customer refund: treasury pays it out
    memo = await gateway.backends.erp.find_sales_credit_memo(
        case.company_id, booked.credit_memo_id or ""
    )
    assert memo is not None
    assert (memo.total_including_tax, memo.applies_to_invoice_id) == (payment.amount, None)
    memo_read = await gateway.client.get(f"/v1/credit-memos/{booked.credit_memo_id}")
    assert memo_read.status_code == 200, memo_read.text
    assert (memo_read.json()["kind"], memo_read.json()["status"]) == ("refund", "posted")


async def test_a_refund_of_a_charge_the_gateway_never_saw_is_left_alone(
    gateway: Gateway,
) -> None:
    payment = await paid_order(gateway)
    async with gateway.sessionmaker.begin() as session:
        stored = await session.get_one(PaymentRow, payment.id)
        stored.charge_ref = "ch_elsewhere"
        stored.source_ref = "in_elsewhere"
    async with stripe_api(gateway) as client:
        await refund(client, payment, 100)
        report = await BillingInbox(gateway.app.state.process).drain()
    assert report.consumed == 1
    assert report.refunds == []
    assert await refund_rows(gateway) == []
