"""Disputes: billing's dispute holds the payment's commission; won, the hold is released;
lost, the ERP journals the write-off and the fee and the commission is clawed back; on
SQLite and PostgreSQL, on Business Central and NetSuite, with the sandboxes."""

from __future__ import annotations

from sqlalchemy import select

from core.models.commission_line import CommissionLineRow
from core.models.dispute import DisputeRow
from core.models.event_outbox import EventOutboxRow
from core.models.payment import PaymentRow
from core.models.workflow_run import RunStatus, WorkflowRunRow
from process_apis.billing_inbox import BillingInbox
from process_apis.payments.disputes import WORKFLOW
from process_apis.worker import replayer
from sandboxes import stripe
from sandboxes.stripe.charges import DISPUTE_FEE, open_dispute
from tests.conftest import Gateway, GatewayFactory
from tests.integration.test_payment_reversals import switchable
from tests.integration.test_refunds import WEBHOOK_URL, paid_order
from tests.integration.test_subscriptions import billing, ordered

WRITE_OFF, FEE, BANK = "68100", "68200", "10100"


async def dispute_charge(gateway: Gateway, payment: PaymentRow) -> str:
    """The cardholder disputes the payment's charge; billing tells the gateway."""
    state = billing(gateway)
    open_dispute(state, state.charges[payment.charge_ref or ""])
    events, state.outbox = state.outbox, []
    await stripe.deliver_events(state, events)
    dispute_id: str = events[-1]["data"]["object"]["id"]
    return dispute_id


async def disputes(gateway: Gateway) -> list[DisputeRow]:
    async with gateway.sessionmaker() as session:
        return list(await session.scalars(select(DisputeRow)))


async def lines(gateway: Gateway) -> list[CommissionLineRow]:
    async with gateway.sessionmaker() as session:
        return list(await session.scalars(select(CommissionLineRow)))


async def disputed(gateway: Gateway, payment: PaymentRow) -> tuple[int, int]:
    """What the invoice shows open disputes contest, in v1 and in v2."""
    url = f"/v{{}}/invoices/{payment.invoice_id}"
    v1 = (await gateway.client.get(url.format(1))).json()["credit"]["amount_disputed"]
    v2 = (await gateway.client.get(url.format(2))).json()["credit"]["disputed"]["amount"]
    return v1, v2


async def event_actions(gateway: Gateway) -> list[str]:
    async with gateway.sessionmaker() as session:
        types = await session.scalars(
            select(EventOutboxRow.type)
            .where(EventOutboxRow.type.like("%.dispute.%"))
            .order_by(EventOutboxRow.sequence)
        )
    return [t.split(".")[3] for t in types]


async def test_a_won_dispute_holds_the_commission_until_it_is_released(
    gateway: Gateway,
) -> None:
    payment = await paid_order(gateway)
    inbox = BillingInbox(gateway.app.state.process)
    billed_dispute = await dispute_charge(gateway, payment)
    await inbox.drain()

    [opened] = await disputes(gateway)
    assert (opened.status, opened.payment_id, opened.amount) == ("open", payment.id, payment.amount)
    held = await lines(gateway)
    assert held
    assert {line.held_by for line in held} == {opened.id}
    assert await disputed(gateway, payment) == (payment.amount, payment.amount)

    await stripe.decide_dispute(billing(gateway), billed_dispute, won=True)
    await inbox.drain()
    await inbox.drain()

    [won] = await disputes(gateway)
    assert won.status == "won"
    released = await lines(gateway)
    assert {line.held_by for line in released} == {None}
    assert all(line.reverses_line_id is None for line in released)  # nothing clawed back
    assert await disputed(gateway, payment) == (0, 0)
    assert await event_actions(gateway) == ["opened", "won"]


async def test_a_lost_dispute_journals_the_loss_and_claws_the_commission_back(
    make_gateway: GatewayFactory, erp_kind: str
) -> None:
    case, erp = await switchable(make_gateway, erp_kind)
    gateway = case.gateway
    payment = await paid_order(gateway)
    earned = await lines(gateway)
    inbox = BillingInbox(gateway.app.state.process)
    billed_dispute = await dispute_charge(gateway, payment)
    await inbox.drain()

    # the ERP is down when the loss arrives: the run waits, the commission stays held
    erp.down = True
    await stripe.decide_dispute(billing(gateway), billed_dispute, won=False)
    await inbox.drain()
    [lost] = await disputes(gateway)
    assert (lost.status, lost.fee, lost.erp_document_number) == ("lost", DISPUTE_FEE, None)
    async with gateway.sessionmaker() as session:
        run = await session.scalar(
            select(WorkflowRunRow).where(WorkflowRunRow.workflow == WORKFLOW)
        )
    assert run is not None
    assert run.status == RunStatus.PENDING_RETRY
    assert all(line.held_by == lost.id for line in await lines(gateway))

    erp.down = False
    assert await replayer(gateway.app.state.process).replay(run.id) == RunStatus.SUCCEEDED
    [lost] = await disputes(gateway)
    assert lost.erp_document_number
    amount = payment.amount
    assert sorted(case.ledger(lost.erp_document_number)) == sorted(
        [(WRITE_OFF, amount, 0), (FEE, DISPUTE_FEE, 0), (BANK, 0, amount + DISPUTE_FEE)]
    )
    after = await lines(gateway)
    assert {line.held_by for line in after} == {None}
    for line in earned:
        [clawed] = [c for c in after if c.reverses_line_id == line.id]
        assert (clawed.cause_id, clawed.commission_amount) == (lost.id, -line.commission_amount)
    assert await event_actions(gateway) == ["opened", "lost"]

    # redelivered, the loss books nothing twice
    await stripe.deliver_events(billing(gateway), billing(gateway).events[-1:])
    await inbox.drain()
    assert len(case.ledger(lost.erp_document_number)) == 3
    assert len(await lines(gateway)) == 2 * len(earned)


async def test_a_dispute_billing_opens_as_the_payment_is_made_holds_what_it_earns(
    gateway: Gateway,
) -> None:
    await ordered(gateway)
    state = billing(gateway)
    [paid] = [e["data"]["object"] for e in state.events if e["type"] == "invoice.paid"]
    open_dispute(state, state.charges[paid["charge"]])  # Stripe's pm_card_createDispute
    state.webhook_endpoints.append(
        stripe.WebhookEndpoint(url=WEBHOOK_URL, secret="whsec_sandbox", app=gateway.app)
    )
    await stripe.deliver_events(state, list(state.events))

    await BillingInbox(gateway.app.state.process).drain()  # payment and dispute in one pass

    [opened] = await disputes(gateway)
    earned = await lines(gateway)
    assert earned
    assert {line.held_by for line in earned} == {opened.id}
