"""Reconciliation of refunds and lost disputes: billing's customer refund and dispute loss
against the ERP's customer refund and `DSP-...` journal; clean when they agree, each
difference with its cause when not; on both databases and both ERPs."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select, update

from core.models.customer import CustomerRow
from core.models.dispute import DisputeRow
from core.models.invoice import InvoiceRow
from core.models.refund import RefundRow
from core.models.workflow_run import RunStatus, WorkflowRunRow
from process_apis.billing_inbox import BillingInbox
from process_apis.payments.disputes import WORKFLOW as DISPUTE_WORKFLOW
from process_apis.payments.disputes import dispute_document_number
from process_apis.payments.workflow import payment_journal
from process_apis.worker import replayer
from sandboxes import stripe
from sandboxes.stripe.charges import DISPUTE_FEE
from system_apis.erp.schemas import (
    ErpCustomerPaymentReversal,
    ErpJournalCreate,
    ErpJournalEntryCreate,
    ErpJournalLine,
)
from tests.conftest import GatewayFactory
from tests.integration.test_credit_after_payment import paid_credit
from tests.integration.test_credit_memos import open_case, request_credit
from tests.integration.test_disputes import dispute_charge
from tests.integration.test_payment_reversals import switchable
from tests.integration.test_reconciliation import causes, recognize, reconciliation
from tests.integration.test_refunds import paid_order, refund, refund_rows, stripe_api
from tests.integration.test_subscriptions import billing
from tests.support.calendar import month, months_later


async def test_booked_refunds_and_journaled_losses_reconcile_until_an_amount_differs(
    make_gateway: GatewayFactory, erp_kind: str
) -> None:
    case, _ = await switchable(make_gateway, erp_kind)
    gateway = case.gateway
    payment = await paid_order(gateway)
    inbox = BillingInbox(gateway.app.state.process)
    async with stripe_api(gateway) as client:
        await refund(client, payment, payment.amount // 4)
    await inbox.drain()
    [refunded] = await refund_rows(gateway)
    assert refunded.status == "booked"
    billed_dispute = await dispute_charge(gateway, payment)
    await inbox.drain()
    await stripe.decide_dispute(billing(gateway), billed_dispute, won=False)
    await inbox.drain()
    async with gateway.sessionmaker() as session:
        [lost] = list(await session.scalars(select(DisputeRow)))
    assert lost.erp_document_number

    body = await reconciliation(gateway)

    assert body["differences"] == [], causes(body)
    totals = {(t["document_type"], t["currency"]): t for t in body["totals"]}
    refunds, disputes = totals["refund", "USD"], totals["dispute", "USD"]
    assert (refunds["gateway_count"], refunds["gateway_total"]) == (1, -refunded.amount)
    assert (refunds["erp_count"], refunds["erp_total"]) == (1, -refunded.amount)
    lost_total = lost.amount + DISPUTE_FEE
    assert (disputes["gateway_count"], disputes["gateway_total"]) == (1, lost_total)
    assert (disputes["erp_count"], disputes["erp_total"]) == (1, lost_total)

    # the gateway's record of what billing did no longer matches the ERP's documents
    async with gateway.sessionmaker.begin() as session:
        await session.execute(
            update(RefundRow).where(RefundRow.id == refunded.id).values(amount=RefundRow.amount + 1)
        )
        await session.execute(
            update(DisputeRow).where(DisputeRow.id == lost.id).values(fee=DisputeRow.fee + 1)
        )

    body = await reconciliation(gateway)

    assert causes(body) == {
        ("refund", refunded.id, "refund_booked_for_another_amount"),
        ("dispute", lost.erp_document_number, "dispute_journaled_for_another_amount"),
    }
    by_key = {d["key"]: d for d in body["differences"]}
    assert (by_key[refunded.id]["gateway_amount"], by_key[refunded.id]["erp_amount"]) == (
        -refunded.amount - 1,
        -refunded.amount,
    )
    journal = by_key[lost.erp_document_number]
    assert (journal["gateway_amount"], journal["erp_amount"]) == (lost_total + 1, lost_total)
    assert journal["kind"] == "amount_mismatch"


async def test_what_the_erp_lacks_and_what_only_the_erp_holds_are_reported(
    make_gateway: GatewayFactory, erp_kind: str
) -> None:
    case, erp = await switchable(make_gateway, erp_kind)
    gateway = case.gateway
    payment = await paid_order(gateway)
    inbox = BillingInbox(gateway.app.state.process)
    # the refund and, later, the loss are recorded while the ERP is down: it gets neither
    erp.down = True
    async with stripe_api(gateway) as client:
        await refund(client, payment, payment.amount // 4)
    await inbox.drain()
    erp.down = False
    [recorded] = await refund_rows(gateway)
    assert recorded.status == "recorded"

    # a customer refund and a dispute journal entered in the ERP by hand
    port = gateway.backends.erp
    ledger = gateway.app.state.process.settings.ledger
    journal = await port.ensure_customer_payment_journal(case.company_id, payment_journal(ledger))
    async with gateway.sessionmaker() as session:
        invoice = await session.get_one(InvoiceRow, recorded.invoice_id)
        customer = await session.get_one(CustomerRow, recorded.customer_id)
    by_hand = "rfd_byhand"
    await port.reverse_customer_payment(
        case.company_id,
        journal.id,
        ErpCustomerPaymentReversal(
            external_document_number=by_hand,
            reverses_document_number=payment.erp_document_number or "",
            customer_number=customer.erp_number,
            currency="USD",
            posting_date=date.today(),
            amount=500,
            applies_to_invoice_id=invoice.erp_ref or "",
            description="Refunded by hand",
        ),
    )
    dispute_journal = await port.ensure_journal(
        case.company_id, ErpJournalCreate(code=ledger.dispute_journal, display_name="Disputes")
    )
    await port.add_journal_entry(
        case.company_id,
        dispute_journal.id,
        ErpJournalEntryCreate(
            document_number="DSP-BYHAND",
            posting_date=date.today(),
            currency="USD",
            lines=(
                ErpJournalLine(account_number="68100", amount=700, description="By hand"),
                ErpJournalLine(account_number=ledger.bank_account, amount=-700, description="H"),
            ),
        ),
    )
    await port.post_journal_entry(case.company_id, dispute_journal.id, "DSP-BYHAND", "USD")

    billed_dispute = await dispute_charge(gateway, payment)
    await inbox.drain()
    erp.down = True
    await stripe.decide_dispute(billing(gateway), billed_dispute, won=False)
    await inbox.drain()
    erp.down = False
    async with gateway.sessionmaker() as session:
        [lost] = list(await session.scalars(select(DisputeRow)))
        loss_run = await session.scalar(
            select(WorkflowRunRow).where(WorkflowRunRow.workflow == DISPUTE_WORKFLOW)
        )
    assert loss_run is not None
    assert (loss_run.status, lost.erp_document_number) == (RunStatus.PENDING_RETRY, None)

    body = await reconciliation(gateway)

    expected_loss = dispute_document_number(lost.id)
    assert causes(body) == {
        ("refund", recorded.id, "refund_not_booked_in_erp"),
        ("dispute", expected_loss, "dispute_loss_not_journaled"),
        ("refund", by_hand, "posted_in_erp_not_registered"),
        ("dispute", "DSP-BYHAND", "posted_in_erp_not_registered"),
    }
    by_key = {d["key"]: d for d in body["differences"]}
    assert by_key[recorded.id]["kind"] == "missing_in_erp"
    assert by_key[recorded.id]["gateway_amount"] == -recorded.amount
    assert by_key[expected_loss]["gateway_amount"] == lost.amount + DISPUTE_FEE
    assert (by_key[by_hand]["kind"], by_key[by_hand]["erp_amount"]) == ("missing_in_gateway", -500)
    assert by_key["DSP-BYHAND"]["erp_amount"] == 700

    # booked once the ERP is back, the loss's journal is the one the gateway expected
    assert await replayer(gateway.app.state.process).replay(loss_run.id) == RunStatus.SUCCEEDED
    async with gateway.sessionmaker() as session:
        journaled = await session.get_one(DisputeRow, lost.id)
    assert journaled.erp_document_number == expected_loss


async def test_a_loss_journaled_in_a_later_month_reconciles_in_the_month_of_its_posting(
    make_gateway: GatewayFactory, erp_kind: str
) -> None:
    case, erp = await switchable(make_gateway, erp_kind)
    gateway = case.gateway
    payment = await paid_order(gateway)
    inbox = BillingInbox(gateway.app.state.process)
    billed_dispute = await dispute_charge(gateway, payment)
    await inbox.drain()
    # lost while the ERP is down: the journal waits for a replay in the next month
    erp.down = True
    await stripe.decide_dispute(billing(gateway), billed_dispute, won=False)
    await inbox.drain()
    erp.down = False
    next_month = months_later(gateway.app)
    async with gateway.sessionmaker() as session:
        loss_run = await session.scalar(
            select(WorkflowRunRow).where(WorkflowRunRow.workflow == DISPUTE_WORKFLOW)
        )
    assert loss_run is not None
    assert await replayer(gateway.app.state.process).replay(loss_run.id) == RunStatus.SUCCEEDED
    async with gateway.sessionmaker() as session:
        [lost] = list(await session.scalars(select(DisputeRow)))
    assert (lost.closed_on, lost.posting_date) == (date.today(), next_month)
    await recognize(gateway)  # the month has ended: its deferred revenue is journaled

    closed_in = await reconciliation(gateway)
    posted_in = await reconciliation(gateway, month(1))

    assert closed_in["differences"] == [], causes(closed_in)
    assert posted_in["differences"] == [], causes(posted_in)
    disputes = {t["document_type"]: t for t in posted_in["totals"]}["dispute"]
    lost_total = lost.amount + DISPUTE_FEE
    assert (disputes["gateway_count"], disputes["gateway_total"]) == (1, lost_total)
    assert (disputes["erp_count"], disputes["erp_total"]) == (1, lost_total)


async def test_a_credit_paid_back_and_its_adopted_refund_reconcile_once(
    make_gateway: GatewayFactory, erp_kind: str
) -> None:
    case, _ = await switchable(make_gateway, erp_kind)
    gateway = case.gateway
    payment = await paid_order(gateway)
    body = paid_credit(
        payment.invoice_id, await open_case(gateway, payment.customer_id), 1000, "refund"
    )
    response = await request_credit(gateway.client, body, "credit-1")
    assert response.status_code in (201, 202), response.text
    memo = (await gateway.client.get(f"/v1/credit-memos/{response.json()['id']}")).json()
    assert memo["status"] == "posted"
    await BillingInbox(gateway.app.state.process).drain()  # the refund adopts the credit
    [adopted] = await refund_rows(gateway)
    assert (adopted.status, adopted.credit_memo_id) == ("booked", memo["id"])

    body = await reconciliation(gateway)

    # the ERP's customer refund carries the memo's number: a refund, not the memo again
    assert body["differences"] == [], causes(body)
    totals = {(t["document_type"], t["currency"]): t for t in body["totals"]}
    paid_back = memo["erp_total_including_tax"]
    assert totals["credit_memo", "USD"]["erp_total"] == paid_back
    refunds = totals["refund", "USD"]
    assert (refunds["gateway_count"], refunds["gateway_total"]) == (1, -paid_back)
    assert (refunds["erp_count"], refunds["erp_total"]) == (1, -paid_back)
