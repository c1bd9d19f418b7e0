"""Invoice → ERP posting decisions against the fake ERP, through the service entry points."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.canonical.documents import InvoiceStatus
from core.errors import ErrorClass
from core.models.base import utcnow
from core.models.invoice import InvoiceRow
from core.models.workflow_run import RunStatus, StepStatus
from process_apis.deps import Transaction
from process_apis.invoices.errors import (
    BillingRefusedVoid,
    ErpTotalsMismatch,
    InvoiceNotVoidable,
    UnknownTaxCode,
)
from process_apis.invoices.mismatch import PostingReversal, accept
from process_apis.invoices.schemas import PostingCreate, PostingState, VoidCreate
from process_apis.invoices.service import post_invoice, void_invoice
from process_apis.invoices.workflow import WORKFLOW, InvoicePostingWorkflow
from process_apis.legal_entities.errors import ClosedPeriod
from process_apis.runs.replay import Replayer
from process_apis.runs.repository import latest_run
from process_apis.runs.schemas import RunState
from system_apis.billing.schemas import BillingInvoiceStatus
from system_apis.erp.schemas import ErpDocumentStatus
from tests.support.fakes.documents import PLATFORM, invoice_create, register
from tests.support.fakes.estate import ACME, INITECH, US_COMPANY, US_TAX_BPS, Estate, month_start
from tests.support.fakes.runs import stored_run


async def invoice(estate: Estate, invoice_id: str) -> InvoiceRow:
    async with estate.sessionmaker() as session:
        return await session.get_one(InvoiceRow, invoice_id)


async def post(
    estate: Estate, invoice_id: str, request: PostingCreate | None = None
) -> PostingState:
    result = await post_invoice(
        estate.context, invoice_id=invoice_id, request=request or PostingCreate(), caller=PLATFORM
    )
    return result.state


async def test_an_invoice_is_posted_once_with_the_erp_acknowledgement(estate: Estate) -> None:
    invoice_id = await register(estate, invoice_create(invoice_date=estate.today))

    assert await post(estate, invoice_id) == PostingState.POSTED

    posted = await invoice(estate, invoice_id)
    [document] = estate.erp.invoices.values()
    assert (posted.status, posted.erp_ref, posted.erp_document_number) == (
        InvoiceStatus.POSTED,
        document.id,
        document.number,
    )
    assert document.status == ErpDocumentStatus.POSTED
    assert document.total_including_tax == posted.total == 14700 + 1305
    again = await post_invoice(
        estate.context, invoice_id=invoice_id, request=PostingCreate(), caller=PLATFORM
    )
    assert again.already_posted
    assert estate.erp.recorder.count("create_sales_invoice") == 1
    run = await stored_run(estate.sessionmaker, again.run_id)
    assert all(step.status == StepStatus.SUCCEEDED for step in run.steps)
    assert len(run.steps) == 4


async def test_erp_totals_other_than_ours_hold_the_invoice_for_an_operator(estate: Estate) -> None:
    invoice_id = await register(estate, invoice_create(invoice_date=estate.today, tax_off_by=2))

    with pytest.raises(ErpTotalsMismatch) as raised:
        await post(estate, invoice_id)

    held = await invoice(estate, invoice_id)
    assert held.status == InvoiceStatus.POSTING_MISMATCH
    assert held.erp_ref is not None  # the ERP document is kept, never deleted
    assert raised.value.extensions["ours"]["tax_total"] == 1305 + 2
    assert raised.value.extensions["erp"]["tax_total"] == 1305
    run = await stored_run(estate.sessionmaker, raised.value.extensions["run_id"])
    assert (run.status, run.error_class) == (RunStatus.FAILED, ErrorClass.CONTRACT)
    assert run.result is not None
    assert run.result["totals_match"] is False


async def test_a_difference_within_the_currency_tolerance_is_posted(estate: Estate) -> None:
    estate.with_settings(ledger={"totals_tolerance": {"USD": 2}})
    invoice_id = await register(estate, invoice_create(invoice_date=estate.today, tax_off_by=2))
    assert await post(estate, invoice_id) == PostingState.POSTED


async def test_a_tax_code_the_erp_does_not_know_is_a_business_failure(estate: Estate) -> None:
    data = invoice_create(invoice_date=estate.today, lines=((1, 4900, "LUXURY"),))
    invoice_id = await register(estate, data)

    with pytest.raises(UnknownTaxCode) as raised:
        await post(estate, invoice_id)

    assert raised.value.extensions["tax_codes"] == ["LUXURY"]
    assert (await invoice(estate, invoice_id)).status == InvoiceStatus.OPEN
    run = await stored_run(estate.sessionmaker, raised.value.extensions["run_id"])
    assert (run.status, run.error_class) == (RunStatus.FAILED, ErrorClass.BUSINESS)
    assert estate.erp.recorder.count("create_sales_invoice") == 0


async def test_a_closed_period_is_refused_or_rolled_forward_by_policy(estate: Estate) -> None:
    last_month = month_start(estate.today) - timedelta(days=3)
    refused = await register(estate, invoice_create(ACME, invoice_date=last_month))
    with pytest.raises(ClosedPeriod):
        await post(estate, refused)
    assert (await invoice(estate, refused)).status == InvoiceStatus.OPEN
    assert estate.erp.recorder.calls == []

    data = invoice_create(INITECH, currency="EUR", invoice_date=last_month, tax_bps=1900)
    rolled = await register(estate, data)
    assert await post(estate, rolled) == PostingState.POSTED
    assert (await invoice(estate, rolled)).posting_date == month_start(estate.today)


async def test_a_posting_interrupted_after_the_erp_draft_resumes_without_a_second_document(
    estate: Estate,
) -> None:
    invoice_id = await register(estate, invoice_create(invoice_date=estate.today))
    estate.erp.recorder.fail("post_sales_invoice", "transient")

    assert await post(estate, invoice_id) == PostingState.PENDING_RETRY
    [draft] = estate.erp.invoices.values()
    assert draft.status == ErpDocumentStatus.DRAFT
    assert (await invoice(estate, invoice_id)).status == InvoiceStatus.POSTING

    assert await post(estate, invoice_id) == PostingState.POSTED
    [posted] = estate.erp.invoices.values()
    assert (posted.id, posted.status) == (draft.id, ErpDocumentStatus.POSTED)
    creates = [c for c in estate.erp.recorder.calls if c.operation == "create_sales_invoice"]
    # Only the first attempt may skip the lookup: the retry must find the draft.
    assert [c.arguments["known_absent"] for c in creates] == [True, False]


async def test_voiding_tells_billing_and_a_posted_invoice_cannot_be_voided(
    estate: Estate,
) -> None:
    billed = estate.billing.add_invoice("cus_b", [(14700, 1305)])
    invoice_id = await register(
        estate, invoice_create(invoice_date=estate.today), billing_ref=billed.id
    )

    result = await void_invoice(
        estate.context, invoice_id=invoice_id, request=VoidCreate(reason="twice"), caller=PLATFORM
    )

    assert (result.status, result.run.state) == (InvoiceStatus.VOID, RunState.COMPLETED)
    assert estate.billing.invoices[billed.id].status == BillingInvoiceStatus.VOID
    assert estate.erp.recorder.calls == []
    posted = await register(estate, invoice_create(invoice_date=estate.today))
    await post(estate, posted)
    with pytest.raises(InvoiceNotVoidable):
        await void_invoice(
            estate.context, invoice_id=posted, request=VoidCreate(reason="x"), caller=PLATFORM
        )


async def test_billing_refusing_the_void_hands_the_invoice_back_open(estate: Estate) -> None:
    paid = estate.billing.add_invoice("cus_b", [(14700, 1305)], status=BillingInvoiceStatus.PAID)
    invoice_id = await register(
        estate, invoice_create(invoice_date=estate.today), billing_ref=paid.id
    )

    with pytest.raises(BillingRefusedVoid):
        await void_invoice(
            estate.context, invoice_id=invoice_id, request=VoidCreate(reason="x"), caller=PLATFORM
        )

    assert (await invoice(estate, invoice_id)).status == InvoiceStatus.OPEN


async def test_a_queued_posting_is_replayed_when_due_or_discarded_back_to_open(
    estate: Estate,
) -> None:
    workflow = InvoicePostingWorkflow(estate.context)
    replayer = Replayer(estate.sessionmaker, [workflow])
    replayed = await register(estate, invoice_create(invoice_date=estate.today))
    given_up = await register(estate, invoice_create(invoice_date=estate.today))
    estate.erp.recorder.fail("list_tax_codes", "transient", times=2)
    assert await post(estate, replayed) == PostingState.PENDING_RETRY
    assert await post(estate, given_up) == PostingState.PENDING_RETRY
    async with estate.sessionmaker.begin() as session:
        queued = await latest_run(session, workflow=WORKFLOW, subject_id=replayed)
        assert queued is not None
        queued.next_attempt_at = utcnow()
        abandoned = await latest_run(session, workflow=WORKFLOW, subject_id=given_up)
        assert abandoned is not None

    assert (await replayer.run_once()).outcomes == {"succeeded": 1}
    assert (await invoice(estate, replayed)).status == InvoiceStatus.POSTED

    await replayer.close(abandoned.id, status=RunStatus.DISCARDED, note="no", operator="op")
    assert (await invoice(estate, given_up)).status == InvoiceStatus.OPEN


async def mismatched(estate: Estate) -> str:
    """An invoice the ERP booked with more tax than ours: its tax rate is set wrong."""
    estate.erp.companies[US_COMPANY].tax_rates["STANDARD"] = US_TAX_BPS + 12
    invoice_id = await register(estate, invoice_create(invoice_date=estate.today))
    with pytest.raises(ErpTotalsMismatch):
        await post(estate, invoice_id)
    return invoice_id


async def test_an_operator_accepting_the_erp_totals_posts_the_invoice_with_them(
    estate: Estate,
) -> None:
    invoice_id = await mismatched(estate)
    [document] = estate.erp.invoices.values()

    await accept(
        Transaction(estate.sessionmaker), invoice_id=invoice_id, reason="ERP rounds", operator="op"
    )

    accepted = await invoice(estate, invoice_id)
    assert (accepted.status, accepted.tax_total, accepted.total) == (
        InvoiceStatus.POSTED,
        document.total_tax,
        document.total_including_tax,
    )
    async with estate.sessionmaker() as session:
        run = await latest_run(session, workflow=WORKFLOW, subject_id=invoice_id)
    assert run is not None
    assert run.status == RunStatus.RESOLVED
    assert run.result is not None
    assert run.result["accepted"]["ours"]["tax_total"] == 1305


async def test_a_reversal_credits_the_erp_document_exactly_and_posts_the_invoice_again(
    estate: Estate,
) -> None:
    invoice_id = await mismatched(estate)
    [wrong] = estate.erp.invoices.values()
    reversal = PostingReversal(estate.context)
    estate.erp.recorder.fail("post_sales_credit_memo", "transient")
    queued = await reversal.reverse(
        invoice_id=invoice_id, reason="tax setup", operator="op", correlation_id=None
    )
    assert queued.state == PostingState.PENDING_RETRY
    estate.erp.companies[US_COMPANY].tax_rates["STANDARD"] = US_TAX_BPS  # repaired meanwhile

    posted = await reversal.resume(queued.run_id)

    assert posted.state == PostingState.POSTED
    [memo] = estate.erp.credit_memos.values()
    assert memo.total_including_tax == wrong.total_including_tax
    assert estate.erp.invoices[wrong.id].remaining_amount == 0
    reposted = await invoice(estate, invoice_id)
    assert reposted.erp_ref != wrong.id
    assert estate.erp.invoices[reposted.erp_ref or ""].external_document_number == (
        f"{invoice_id}-1"
    )
    assert reposted.total == estate.erp.invoices[reposted.erp_ref or ""].total_including_tax
