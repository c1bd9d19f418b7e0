"""Partner settlement decisions on the port fakes: drawing up a month once it has ended,
prior-period adjustments, settling after period close, posting, resuming and reversal."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from core.canonical.documents import SettlementStatus
from core.models.workflow_run import RunStatus
from process_apis.invoices.schemas import PostingCreate
from process_apis.invoices.service import post_invoice
from process_apis.payments.schemas import PaymentCreate
from process_apis.payments.workflow import PaymentWorkflow
from process_apis.settlements.errors import (
    SettlementAccountingPeriodOpen,
    SettlementNotPosted,
    SettlementPeriodOpen,
)
from process_apis.settlements.reversal import SettlementReversalWorkflow
from process_apis.settlements.schemas import SettlementRunResult
from process_apis.settlements.workflow import SettlementPostingWorkflow
from system_apis.erp.schemas import ErpJournalEntry
from tests.support.fakes.documents import PLATFORM, invoice_create, register
from tests.support.fakes.estate import ACME, PARTNER, PRO, US, Estate, month_start

COMMISSION = 2940  # 20 % of the 14700 pro line of an invoice paid in full
TOTAL = 14700 + 1305


async def paid_commission(estate: Estate, paid_on: date) -> None:
    """An invoice of ACME (the partner's customer) posted and paid in full on `paid_on`."""
    invoice_id = await register(estate, invoice_create(ACME, invoice_date=paid_on, product_id=PRO))
    await post_invoice(
        estate.context, invoice_id=invoice_id, request=PostingCreate(), caller=PLATFORM
    )
    await PaymentWorkflow(estate.context).record(
        invoice_id,
        PaymentCreate(amount=TOTAL, currency="USD", paid_on=paid_on),
        client_id="platform",
        correlation_id=None,
    )


def settlement_entries(estate: Estate) -> dict[str, ErpJournalEntry]:
    return estate.erp.entries(estate.context.settings.ledger.settlement_journal)


def month(day: date) -> str:
    return f"{day:%Y-%m}"


async def settle(
    estate: Estate, period: str, legal_entity_id: str | None = None
) -> SettlementRunResult:
    return await SettlementPostingWorkflow(estate.context).run_period(
        period, legal_entity_id=legal_entity_id, client_id="finance", correlation_id=None
    )


@pytest.fixture
async def earned(estate: Estate) -> Estate:
    """A commission paid this month (an open accounting period), the partner registered."""
    estate.crm.approve(
        PARTNER, ACME, ("pro",), on=date(2026, 1, 1), until=estate.today + timedelta(days=400)
    )
    await paid_commission(estate, estate.today)
    return estate


async def test_a_month_that_has_not_ended_cannot_be_settled(earned: Estate) -> None:
    with pytest.raises(SettlementPeriodOpen) as raised:
        await settle(earned, month(earned.today))
    assert raised.value.extensions["settleable_from"] == month_start(earned.today, 1).isoformat()


async def test_an_ended_month_is_drawn_up_and_journaled_once(earned: Estate) -> None:
    earned.today = month_start(earned.today, 1)

    result = await settle(earned, month(month_start(earned.today, -1)))

    [statement] = result.settlements
    assert (result.drawn_up, statement.status) == (1, SettlementStatus.POSTED)
    assert (statement.partner_id, statement.legal_entity_id) == (PARTNER, US)
    assert (statement.total_commission, statement.adjustment_total) == (COMMISSION, 0)
    [entry] = settlement_entries(earned).values()
    assert entry.document_number == statement.journal_document_number
    assert [(line.account_number, line.amount) for line in entry.lines] == [
        ("60100", COMMISSION),
        ("21500", -COMMISSION),
    ]
    again = await settle(earned, month(month_start(earned.today, -1)))
    assert again.drawn_up == 0
    assert earned.erp.recorder.count("post_journal_entry") == 1


async def test_a_commission_paid_late_in_a_settled_month_is_the_next_months_adjustment(
    earned: Estate,
) -> None:
    this_month = earned.today
    earned.today = month_start(this_month, 2)
    await settle(earned, month(this_month))
    await paid_commission(earned, this_month)  # recorded after its month was settled

    result = await settle(earned, month(month_start(this_month, 1)))

    [statement] = result.settlements
    assert (statement.total_commission, statement.adjustment_total) == (COMMISSION, COMMISSION)
    late = settlement_entries(earned)[statement.journal_document_number or ""]
    assert [line.description.split(" ")[0] for line in late.lines] == [
        "Prior-period",
        "Commissions",
    ]


async def test_an_entity_that_settles_after_period_close_waits_for_it(earned: Estate) -> None:
    earned.with_settings(settlements={"after_period_close": ["LG-US"]})
    earned.today = month_start(earned.today, 1)
    period = month(month_start(earned.today, -1))  # its accounting period is still open

    with pytest.raises(SettlementAccountingPeriodOpen):
        await settle(earned, period, US)
    result = await settle(earned, period)

    assert (result.awaiting_period_close, result.settlements) == ([US], [])


async def test_an_erp_outage_queues_the_statement_and_the_next_run_posts_it(
    earned: Estate,
) -> None:
    earned.today = month_start(earned.today, 1)
    period = month(month_start(earned.today, -1))
    earned.erp.recorder.fail("post_journal_entry", "transient")

    [queued] = (await settle(earned, period)).settlements
    assert queued.last_run is not None
    assert queued.last_run.status == RunStatus.PENDING_RETRY

    [posted] = (await settle(earned, period)).settlements
    assert posted.status == SettlementStatus.POSTED
    assert len(settlement_entries(earned)) == 1


async def test_a_reversal_books_the_opposite_entry_and_unsettles_the_commissions(
    earned: Estate,
) -> None:
    this_month = earned.today
    earned.today = month_start(this_month, 2)
    [statement] = (await settle(earned, month(this_month))).settlements
    reversals = SettlementReversalWorkflow(earned.context)

    reversed_ = await reversals.reverse(
        statement.id, reason="wrong plan", client_id="finance", correlation_id=None
    )

    assert reversed_.status == SettlementStatus.REVERSED
    entries = settlement_entries(earned)
    original = entries[statement.journal_document_number or ""]
    reversal = entries[reversed_.reversal_document_number or ""]
    assert [line.amount for line in reversal.lines] == [-line.amount for line in original.lines]
    again = await reversals.reverse(statement.id, reason="x", client_id="f", correlation_id=None)
    assert again.reversal_document_number == reversed_.reversal_document_number
    [adjusted] = (await settle(earned, month(month_start(this_month, 1)))).settlements
    assert adjusted.adjustment_total == COMMISSION


async def test_an_unposted_statement_cannot_be_reversed(earned: Estate) -> None:
    earned.today = month_start(earned.today, 1)
    earned.erp.recorder.fail("ensure_journal", "contract")
    [failed] = (await settle(earned, month(month_start(earned.today, -1)))).settlements
    with pytest.raises(SettlementNotPosted):
        await SettlementReversalWorkflow(earned.context).reverse(
            failed.id, reason="x", client_id="finance", correlation_id=None
        )
