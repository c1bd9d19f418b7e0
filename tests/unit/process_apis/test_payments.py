"""Payment → commission decisions on the port fakes: the ERP application, overpayment, and
the partner's commission per rate card version and deal registration."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from core.canonical.documents import InvoiceStatus
from core.models.invoice import InvoiceRow
from core.models.payment import PaymentStatus
from core.models.workflow_run import RunStatus
from process_apis.invoices.schemas import PostingCreate
from process_apis.invoices.service import post_invoice
from process_apis.payments.errors import (
    InvoiceAlreadyPaid,
    PaymentExceedsRemaining,
    PaymentInLedger,
)
from process_apis.payments.schemas import PaymentCreate, PaymentResource
from process_apis.payments.workflow import PaymentWorkflow
from process_apis.runs.replay import Replayer
from system_apis.errors import BackendContractError
from tests.support.fakes.documents import PLATFORM, invoice_create, register
from tests.support.fakes.estate import ACME, GLOBEX, PARTNER, PLAN, PRO, Estate
from tests.support.fakes.runs import stored_run

TOTAL = 14700 + 1305


async def posted_invoice(estate: Estate, customer_id: str = ACME) -> str:
    data = invoice_create(customer_id, invoice_date=estate.today, product_id=PRO)
    invoice_id = await register(estate, data)
    await post_invoice(
        estate.context, invoice_id=invoice_id, request=PostingCreate(), caller=PLATFORM
    )
    return invoice_id


def registered(estate: Estate, customer_id: str = ACME) -> None:
    """The partner's approved deal registration for the customer's `pro` tier."""
    estate.crm.approve(
        PARTNER,
        customer_id,
        ("pro",),
        on=estate.today - timedelta(days=60),
        until=estate.today + timedelta(days=300),
    )


async def pay(
    estate: Estate, invoice_id: str, amount: int, paid_on: date | None = None
) -> PaymentResource:
    return await PaymentWorkflow(estate.context).record(
        invoice_id,
        PaymentCreate(amount=amount, currency="USD", paid_on=paid_on or estate.today),
        client_id="platform",
        correlation_id=None,
    )


async def status_of(estate: Estate, invoice_id: str) -> str:
    async with estate.sessionmaker() as session:
        return (await session.get_one(InvoiceRow, invoice_id)).status


async def test_a_full_payment_settles_the_erp_invoice_and_earns_the_partner_commission(
    estate: Estate,
) -> None:
    invoice_id = await posted_invoice(estate)
    registered(estate)

    payment = await pay(estate, invoice_id, TOTAL)

    assert payment.status == PaymentStatus.APPLIED
    assert await status_of(estate, invoice_id) == InvoiceStatus.PAID
    [document] = estate.erp.invoices.values()
    assert document.remaining_amount == 0
    [line] = payment.commission_lines
    assert (line.eligible, line.plan_code, line.rate_card_version, line.rate_bps) == (
        True,
        PLAN,
        1,
        2000,
    )
    assert (line.base_amount, line.commission_amount) == (14700, 2940)
    with pytest.raises(InvoiceAlreadyPaid):
        await pay(estate, invoice_id, 1)


async def test_a_part_payment_earns_its_share_and_leaves_the_invoice_owing(
    estate: Estate,
) -> None:
    invoice_id = await posted_invoice(estate)
    registered(estate)

    payment = await pay(estate, invoice_id, TOTAL // 2)

    assert await status_of(estate, invoice_id) == InvoiceStatus.POSTED
    [line] = payment.commission_lines
    # 14700 of 16005 is the line's part of the payment of 8002, rounded half up.
    assert (line.base_amount, line.commission_amount) == (7350, 1470)


async def test_an_overpayment_is_refused_and_the_payment_voided(estate: Estate) -> None:
    invoice_id = await posted_invoice(estate)

    with pytest.raises(PaymentExceedsRemaining) as raised:
        await pay(estate, invoice_id, TOTAL + 1)

    assert raised.value.extensions["remaining_amount"] == TOTAL
    payment = await PaymentWorkflow(estate.context).read(raised.value.extensions["payment_id"])
    assert payment.status == PaymentStatus.VOID
    run = await stored_run(estate.sessionmaker, raised.value.extensions["run_id"])
    assert run.status == RunStatus.REJECTED  # the caller got the answer and can correct it
    [document] = estate.erp.invoices.values()
    assert document.remaining_amount == TOTAL


async def test_without_a_deal_registration_the_line_earns_nothing_on_record(
    estate: Estate,
) -> None:
    invoice_id = await posted_invoice(estate)

    [line] = (await pay(estate, invoice_id, TOTAL)).commission_lines

    assert (line.eligible, line.eligibility_reason, line.commission_amount) == (
        False,
        "no_deal_registration",
        0,
    )


async def test_a_customer_without_a_partner_earns_no_commission(estate: Estate) -> None:
    invoice_id = await posted_invoice(estate, GLOBEX)
    assert (await pay(estate, invoice_id, TOTAL)).commission_lines == []
    assert estate.crm.recorder.calls == []


async def test_the_rate_card_version_in_force_on_the_payment_date_applies(estate: Estate) -> None:
    change = estate.today + timedelta(days=1)  # both payment dates in an open period
    estate.crm.add_plan(PLAN, (date(2020, 1, 1), {"pro": 2000}), (change, {"pro": 2500}))
    registered(estate)
    before, after = await posted_invoice(estate), await posted_invoice(estate)

    [old] = (await pay(estate, before, TOTAL, change - timedelta(days=1))).commission_lines
    [new] = (await pay(estate, after, TOTAL, change)).commission_lines

    assert [(old.rate_card_version, old.rate_bps), (new.rate_card_version, new.rate_bps)] == [
        (1, 2000),
        (2, 2500),
    ]
    assert new.commission_amount == 3675


async def test_a_crm_outage_queues_the_payment_and_the_replay_applies_it_once(
    estate: Estate,
) -> None:
    invoice_id = await posted_invoice(estate)
    registered(estate)
    estate.crm.recorder.fail("get_commission_plan", "transient")

    queued = await pay(estate, invoice_id, TOTAL)

    assert queued.status == PaymentStatus.RECORDED
    assert queued.last_run is not None
    assert queued.last_run.status == RunStatus.PENDING_RETRY
    resumed = await PaymentWorkflow(estate.context).resume(queued.last_run.id)
    assert resumed.status == PaymentStatus.APPLIED
    assert len(estate.erp.payments) == 1
    assert estate.erp.recorder.count("apply_customer_payment") == 2
    assert [line.commission_amount for line in resumed.commission_lines] == [2940]


async def test_a_payment_the_erp_applied_cannot_be_given_up_one_it_never_took_is_voided(
    estate: Estate,
) -> None:
    workflow = PaymentWorkflow(estate.context)
    replayer = Replayer(estate.sessionmaker, [workflow])
    applied_first, never_applied = await posted_invoice(estate), await posted_invoice(estate)
    estate.crm.recorder.fail("get_partner", "contract")
    estate.erp.recorder.fail("apply_customer_payment", "contract", after=1)
    with pytest.raises(BackendContractError) as in_ledger:
        await pay(estate, applied_first, TOTAL)
    with pytest.raises(BackendContractError) as not_taken:
        await pay(estate, never_applied, TOTAL)

    with pytest.raises(PaymentInLedger):
        await replayer.close(
            in_ledger.value.extensions["run_id"], status=RunStatus.DISCARDED, note="x", operator="o"
        )
    await replayer.close(
        not_taken.value.extensions["run_id"], status=RunStatus.DISCARDED, note="x", operator="o"
    )

    voided = await workflow.read(not_taken.value.extensions["payment_id"])
    kept = await workflow.read(in_ledger.value.extensions["payment_id"])
    assert (voided.status, kept.status) == (PaymentStatus.VOID, PaymentStatus.RECORDED)
    assert len(estate.erp.payments) == 1
