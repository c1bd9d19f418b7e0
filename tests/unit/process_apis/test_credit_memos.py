"""Support credit → credit memo decisions on the port fakes: thresholds, four eyes, caps."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.auth import MoneyLimitExceeded, Principal
from core.canonical.documents import CreditMemoStatus
from core.models.credit_memo import CreditMemoRow
from core.models.workflow_run import RunStatus
from process_apis.credit_memos.errors import (
    CaseMismatch,
    CreditSelfApproval,
)
from process_apis.credit_memos.schemas import CreditMemoCreate, CreditReason
from process_apis.credit_memos.workflow import WORKFLOW, CreditMemoWorkflow
from process_apis.errors import CreditExceedsRemaining, InvoiceNotPosted
from process_apis.invoices.schemas import PostingCreate
from process_apis.invoices.service import post_invoice
from process_apis.runs.replay import Replayer
from process_apis.runs.repository import latest_run
from system_apis.errors import BackendBusinessError, BackendContractError
from system_apis.support.schemas import (
    ServiceCreditStatus,
    SupportCaseCreate,
    SupportEntitlementGrant,
    SupportTier,
)
from tests.support.fakes.documents import PLATFORM, invoice_create, register
from tests.support.fakes.estate import ACME, GLOBEX, PRO, US_TAX_BPS, Estate, month_start

AGENT = Principal(client_id="support-desk", scopes=frozenset({"credit_memos:write"}))
SUPERVISOR = "finance-supervisor"


async def posted_invoice(estate: Estate) -> str:
    """A posted invoice of 14700 + tax, billed by billing (it has a billing document)."""
    billed = estate.billing.add_invoice("cus_b", [(14700, 1305)])
    invoice_id = await register(
        estate, invoice_create(invoice_date=estate.today), billing_ref=billed.id
    )
    await post_invoice(
        estate.context, invoice_id=invoice_id, request=PostingCreate(), caller=PLATFORM
    )
    return invoice_id


async def open_case(estate: Estate, customer_id: str = ACME) -> str:
    case = await estate.support.open_case(
        SupportCaseCreate(customer_id=customer_id, subject="Outage"), idempotency_key=customer_id
    )
    return case.id


def credit(invoice_id: str, case_id: str, amount: int, **values: object) -> CreditMemoCreate:
    return CreditMemoCreate.model_validate(
        {
            "invoice_id": invoice_id,
            "amount": amount,
            "currency": "USD",
            "reason_code": "outage",
            "case_id": case_id,
            **values,
        }
    )


async def request(
    estate: Estate, data: CreditMemoCreate, principal: Principal = AGENT
) -> tuple[str, CreditMemoStatus]:
    memo = await CreditMemoWorkflow(estate.context).request(
        data, principal=principal, correlation_id=None
    )
    return memo.id, memo.status


async def test_a_credit_under_the_threshold_is_issued_everywhere_at_once(estate: Estate) -> None:
    invoice_id, case_id = await posted_invoice(estate), await open_case(estate)

    _, status = await request(estate, credit(invoice_id, case_id, 1000))

    assert status == CreditMemoStatus.POSTED
    [memo] = estate.erp.credit_memos.values()
    tax = (1000 * US_TAX_BPS + 5000) // 10000
    assert memo.total_including_tax == 1000 + tax
    [document] = estate.erp.invoices.values()
    assert document.remaining_amount == 14700 + 1305 - 1000 - tax
    [note] = estate.billing.credit_notes.values()
    assert note.total == 1000 + tax  # what the ERP credited, tax included
    [service_credit] = estate.support.credits.values()
    assert (service_credit.amount, service_credit.status) == (1000, ServiceCreditStatus.APPROVED)


async def test_a_credit_over_the_threshold_waits_for_another_client_to_approve_it(
    estate: Estate,
) -> None:
    invoice_id, case_id = await posted_invoice(estate), await open_case(estate)
    memo_id, status = await request(estate, credit(invoice_id, case_id, 10_001))
    assert status == CreditMemoStatus.REQUESTED
    assert estate.erp.credit_memos == {}
    workflow = CreditMemoWorkflow(estate.context)

    with pytest.raises(CreditSelfApproval):
        await workflow.approve(memo_id, approver=AGENT.client_id, correlation_id=None)
    approved = await workflow.approve(memo_id, approver=SUPERVISOR, correlation_id=None)

    assert (approved.status, approved.approved_by) == (CreditMemoStatus.POSTED, SUPERVISOR)
    assert len(estate.erp.credit_memos) == 1


async def test_small_credits_on_one_case_add_up_to_the_threshold(estate: Estate) -> None:
    estate.with_settings(credit_memos={"approval_thresholds": {"USD": 5000}})
    invoice_id, case_id = await posted_invoice(estate), await open_case(estate)
    first = await request(estate, credit(invoice_id, case_id, 3000))
    second = await request(estate, credit(invoice_id, case_id, 3000))
    assert [first[1], second[1]] == [CreditMemoStatus.POSTED, CreditMemoStatus.REQUESTED]


async def test_a_currency_without_a_threshold_always_needs_approval(estate: Estate) -> None:
    estate.with_settings(credit_memos={"approval_thresholds": {"EUR": 5000}})
    invoice_id, case_id = await posted_invoice(estate), await open_case(estate)
    assert (await request(estate, credit(invoice_id, case_id, 1)))[1] == CreditMemoStatus.REQUESTED


async def test_a_client_over_its_money_limit_is_refused_unless_it_may_approve(
    estate: Estate,
) -> None:
    invoice_id, case_id = await posted_invoice(estate), await open_case(estate)
    limits = {"credit_memos:write": {"USD": 500}}
    capped = Principal(client_id="agent", scopes=AGENT.scopes, money_limits=limits)
    with pytest.raises(MoneyLimitExceeded):
        await request(estate, credit(invoice_id, case_id, 501), capped)
    approver = Principal(
        client_id="lead", scopes=frozenset({"credit_memos:approve"}), money_limits=limits
    )
    assert (await request(estate, credit(invoice_id, case_id, 501), approver))[1] == (
        CreditMemoStatus.POSTED
    )


async def test_a_credit_over_what_the_invoice_still_owes_issues_nothing(estate: Estate) -> None:
    estate.with_settings(credit_memos={"approval_thresholds": {"USD": 100_000}})
    invoice_id, case_id = await posted_invoice(estate), await open_case(estate)

    with pytest.raises(CreditExceedsRemaining) as raised:
        await request(estate, credit(invoice_id, case_id, 15_000))

    assert raised.value.extensions["remaining_amount"] == 14700 + 1305
    assert estate.billing.credit_notes == {}
    assert estate.support.credits == {}


async def test_a_credit_is_refused_on_an_unposted_invoice_or_another_customers_case(
    estate: Estate,
) -> None:
    unposted = await register(estate, invoice_create(invoice_date=estate.today))
    with pytest.raises(InvoiceNotPosted):
        await request(estate, credit(unposted, "case", 100))
    invoice_id, foreign_case = await posted_invoice(estate), await open_case(estate, GLOBEX)
    with pytest.raises(CaseMismatch):
        await request(estate, credit(invoice_id, foreign_case, 100))
    assert estate.erp.credit_memos == {}


async def test_a_plan_downgrade_credit_lowers_the_entitlement(estate: Estate) -> None:
    invoice_id, case_id = await posted_invoice(estate), await open_case(estate)
    grant = SupportEntitlementGrant(product_id=PRO, tier=SupportTier.ENTERPRISE)
    await estate.support.grant_entitlement(ACME, grant, idempotency_key="g")
    data = credit(
        invoice_id,
        case_id,
        1000,
        reason_code=CreditReason.PLAN_DOWNGRADE,
        entitlement_change={"product_id": PRO, "tier": "pro"},
    )

    assert (await request(estate, data))[1] == CreditMemoStatus.POSTED
    assert estate.support.active(ACME) == {PRO: SupportTier.PRO}


async def test_discarding_a_credit_the_erp_never_booked_withdraws_it(estate: Estate) -> None:
    invoice_id, case_id = await posted_invoice(estate), await open_case(estate)
    estate.erp.recorder.fail("create_sales_credit_memo", "contract")
    with pytest.raises(BackendContractError):
        await request(estate, credit(invoice_id, case_id, 1000))
    async with estate.sessionmaker() as session:
        memo_id = await session.scalar(select(CreditMemoRow.id))
        assert memo_id is not None
        run = await latest_run(session, workflow=WORKFLOW, subject_id=memo_id)
    assert run is not None
    assert run.status == RunStatus.FAILED

    await Replayer(estate.sessionmaker, [CreditMemoWorkflow(estate.context)]).close(
        run.id, status=RunStatus.DISCARDED, note="gave up", operator="op"
    )

    withdrawn = await CreditMemoWorkflow(estate.context).read(memo_id)
    assert withdrawn.status == CreditMemoStatus.REJECTED
    assert estate.billing.credit_notes == {}


async def test_discarding_a_credit_the_erp_booked_reverses_it_with_a_sales_invoice(
    estate: Estate,
) -> None:
    invoice_id, case_id = await posted_invoice(estate), await open_case(estate)
    estate.billing.recorder.fail("create_credit_note", "business")
    with pytest.raises(BackendBusinessError):
        await request(estate, credit(invoice_id, case_id, 1000))
    [memo] = estate.erp.credit_memos.values()
    async with estate.sessionmaker() as session:
        memo_id = await session.scalar(select(CreditMemoRow.id))
        assert memo_id is not None
        run = await latest_run(session, workflow=WORKFLOW, subject_id=memo_id)
    assert run is not None
    replayer = Replayer(estate.sessionmaker, [CreditMemoWorkflow(estate.context)])

    await replayer.close(run.id, status=RunStatus.DISCARDED, note="gave up", operator="op")
    assert (await replayer.run_once()).outcomes == {"succeeded": 1}

    reversing = [
        i for i in estate.erp.invoices.values() if i.external_document_number == f"{memo_id}-R"
    ]
    assert [i.total_including_tax for i in reversing] == [memo.total_including_tax]
    withdrawn = await CreditMemoWorkflow(estate.context).read(memo_id)
    assert withdrawn.status == CreditMemoStatus.REJECTED
    assert memo.status == "posted"  # the ERP credit memo stays: undone by a document


async def test_a_credit_is_dated_on_the_gateway_s_day_not_the_machine_s(estate: Estate) -> None:
    """The posting date comes from the process context's UTC day, which tests and a
    machine set to another time zone alike cannot move by their local clock."""
    invoice_id, case_id = await posted_invoice(estate), await open_case(estate)
    estate.today = month_start(estate.today, 2) + timedelta(days=3)

    memo_id, status = await request(estate, credit(invoice_id, case_id, 1000))

    assert status == CreditMemoStatus.POSTED
    [memo] = estate.erp.credit_memos.values()
    assert memo.posting_date == estate.today
    async with estate.sessionmaker() as session:
        row = await session.get_one(CreditMemoRow, memo_id)
    assert row.posting_date == estate.today
