"""A support credit on a paid invoice: a credit memo settled by a refund (booked once in
the ERP, adopted by the refund run billing's `charge.refunded` starts) or on the
customer's balance; on SQLite and PostgreSQL, on Business Central and NetSuite, with the
sandboxes."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from core.errors import PROBLEM_BASE_URI
from core.models.credit_memo import CreditMemoRow
from core.models.workflow_run import RunStatus, WorkflowRunRow, WorkflowStepRow
from process_apis.billing_inbox import BillingInbox
from process_apis.credit_memos.errors import CreditPaidBack
from process_apis.credit_memos.workflow import WORKFLOW
from process_apis.payments.commissions import half_up
from process_apis.worker import replayer
from tests.conftest import Gateway, GatewayFactory
from tests.integration.test_credit_memos import (
    APPROVER,
    approve,
    credit_body,
    open_case,
    posted_invoice,
    request_credit,
)
from tests.integration.test_payment_reversals import switchable
from tests.integration.test_refunds import (
    CREDIT_MEMOS,
    erp_invoice_remaining,
    lines,
    paid_order,
    refund_rows,
    run_of,
)
from tests.integration.test_subscriptions import billing


async def steps_of(gateway: Gateway, run_id: str) -> dict[str, str]:
    async with gateway.sessionmaker() as session:
        steps = await session.scalars(
            select(WorkflowStepRow).where(WorkflowStepRow.run_id == run_id)
        )
        return {step.name: step.status for step in steps}


async def memo_rows(gateway: Gateway) -> dict[str, CreditMemoRow]:
    async with gateway.sessionmaker() as session:
        return {memo.id: memo for memo in await session.scalars(select(CreditMemoRow))}


def paid_credit(invoice_id: str, case_id: str, amount: int, settlement: str) -> dict[str, Any]:
    return credit_body(invoice_id, case_id, amount, currency="USD", settlement=settlement)


async def test_a_refunded_credit_is_booked_once_and_its_refund_adopts_it(
    make_gateway: GatewayFactory, erp_kind: str
) -> None:
    case, erp = await switchable(make_gateway, erp_kind)
    gateway = case.gateway
    payment = await paid_order(gateway)
    earned = [line for line in await lines(gateway) if line.reverses_line_id is None]
    assert any(line.commission_amount > 0 for line in earned)
    case_id = await open_case(gateway, payment.customer_id)
    body = paid_credit(payment.invoice_id, case_id, payment.amount // 4, "refund")
    body["currency"] = payment.currency

    # halfway: the customer refund is booked, the ERP refuses the credit memo for now
    erp.down_for = CREDIT_MEMOS
    response = await request_credit(gateway.client, body, "credit-1")
    assert response.status_code == 202, response.text
    queued = response.json()
    assert (queued["status"], queued["settlement"]) == ("approved", "refund")
    run_id = queued["last_run"]["id"]
    steps = await steps_of(gateway, run_id)
    assert steps["refund_payment"] == "succeeded"
    assert steps["create_erp_credit_memo"] == "failed"
    assert "issue_billing_credit_note" not in steps  # billing paid nothing back yet

    erp.down_for = None
    assert await replayer(gateway.app.state.process).replay(run_id) == RunStatus.SUCCEEDED
    memo = (await gateway.client.get(f"/v1/credit-memos/{queued['id']}")).json()
    assert memo["status"] == "posted"
    paid_back = memo["erp_total_including_tax"]
    assert paid_back >= body["amount"]  # tax included, if any
    # the ERP: one customer refund of the credit, the memo applied, the invoice settled
    assert case.payments()[memo["id"]] == -paid_back
    assert len(case.payments()) == 2
    erp_memo = await gateway.backends.erp.find_sales_credit_memo(case.company_id, memo["id"])
    assert erp_memo is not None
    assert erp_memo.total_including_tax == paid_back
    invoice = (await gateway.client.get(f"/v1/invoices/{payment.invoice_id}")).json()
    assert await erp_invoice_remaining(case, invoice["refs"]["erp"]) == 0
    # billing: a credit note paying it back on the charge
    state = billing(gateway)
    note = state.credit_notes[memo["refs"]["billing"]]
    assert (note["refund_amount"], note["total"]) == (paid_back, paid_back)
    assert note["refund"] is not None

    # billing's `charge.refunded` reaches the refund run, which adopts the memo
    inbox = BillingInbox(gateway.app.state.process)
    await inbox.drain()
    await inbox.drain()  # a redelivery or a second look books nothing twice
    [refund] = await refund_rows(gateway)
    assert (refund.status, refund.source_ref, refund.amount) == (
        "booked",
        note["refund"],
        paid_back,
    )
    assert refund.credit_memo_id == memo["id"]
    refund_run, refund_steps = await run_of(gateway, refund.id)
    assert refund_run.result is not None
    assert refund_run.result["adopted_credit_memo"] == memo["id"]
    assert refund_steps == {"find_credit_note": "succeeded"}  # nothing booked in the ERP
    memos = await memo_rows(gateway)
    [own] = [m for m in memos.values() if m.kind == "refund"]
    assert own.status == "rejected"
    assert refund_run.result["withdrawn_credit_memo"] == own.id  # why it is rejected
    assert await gateway.backends.erp.find_sales_credit_memo(case.company_id, own.id) is None
    assert len(case.payments()) == 2  # the payment and the one customer refund
    credited = (await gateway.client.get(f"/v1/invoices/{payment.invoice_id}")).json()
    assert credited["credit"]["amount_credited"] == paid_back
    # the commission earned on the refunded share clawed back, naming the refund
    clawed = {line.reverses_line_id: line for line in await lines(gateway) if line.cause_id}
    for line in earned:
        assert clawed[line.id].cause_id == refund.id
        assert clawed[line.id].commission_amount == -half_up(
            line.commission_amount * paid_back, payment.amount
        )


async def test_a_credit_to_the_customer_balance_stays_open_in_the_erp(
    make_gateway: GatewayFactory, erp_kind: str
) -> None:
    case, _ = await switchable(make_gateway, erp_kind)
    gateway = case.gateway
    payment = await paid_order(gateway)
    case_id = await open_case(gateway, payment.customer_id)
    body = paid_credit(payment.invoice_id, case_id, 1000, "customer_balance")
    body["currency"] = payment.currency
    response = await request_credit(gateway.client, body, "credit-1")
    assert response.status_code == 201, response.text
    memo = response.json()
    assert (memo["status"], memo["settlement"]) == ("posted", "customer_balance")
    credit = memo["erp_total_including_tax"]
    erp_memo = await gateway.backends.erp.find_sales_credit_memo(case.company_id, memo["id"])
    assert erp_memo is not None
    assert erp_memo.applies_to_invoice_number is None  # open: the customer's credit
    assert len(case.payments()) == 1  # no money paid back
    state = billing(gateway)
    note = state.credit_notes[memo["refs"]["billing"]]
    assert (note["refund_amount"], note["refund"]) == (None, None)
    assert state.customers[note["customer"]]["balance"] == -credit
    await BillingInbox(gateway.app.state.process).drain()
    assert await refund_rows(gateway) == []
    assert [line for line in await lines(gateway) if line.cause_id] == []


async def test_a_paid_invoices_credit_names_its_settlement_and_waits_for_an_approver(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway(credit_memos={"approval_thresholds": {"USD": 1000}})
    unpaid = await posted_invoice(gateway)
    case_id = await open_case(gateway)
    refused = await request_credit(
        gateway.client, paid_credit(unpaid["id"], case_id, 100, "refund"), "k1"
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["type"] == f"{PROBLEM_BASE_URI}credit-settlement-on-unpaid-invoice"

    payment = await paid_order(gateway)
    paid_case = await open_case(gateway, payment.customer_id)
    body = credit_body(payment.invoice_id, paid_case, 100, currency=payment.currency)
    missing = await request_credit(gateway.client, body, "k2")
    assert missing.status_code == 422, missing.text
    assert missing.json()["type"] == f"{PROBLEM_BASE_URI}credit-settlement-required"

    # above the threshold: four eyes, as for any credit; the refund only once approved
    large = paid_credit(payment.invoice_id, paid_case, 5000, "refund")
    large["currency"] = payment.currency
    requested = await request_credit(gateway.client, large, "k3")
    assert requested.status_code == 201, requested.text
    memo = requested.json()
    assert (memo["status"], memo["approval_required"]) == ("requested", True)
    async with gateway.sessionmaker() as session:
        started = await session.scalar(
            select(WorkflowRunRow).where(
                WorkflowRunRow.workflow == WORKFLOW, WorkflowRunRow.subject_id == memo["id"]
            )
        )
    assert started is None
    self_approved = await approve(gateway.client, memo["id"], "a1")
    assert self_approved.status_code in (403, 422)
    approver = await gateway.client_with(APPROVER, client_id="finance-approver")
    approved = await approve(approver, memo["id"], "a2")
    await approver.aclose()
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "posted"
    assert approved.json()["approved_by"] == "finance-approver"


async def test_discarding_a_credit_that_paid_back_is_refused(make_gateway: GatewayFactory) -> None:
    case, erp = await switchable(make_gateway)
    gateway = case.gateway
    payment = await paid_order(gateway)
    case_id = await open_case(gateway, payment.customer_id)
    body = paid_credit(payment.invoice_id, case_id, 1000, "refund")
    body["currency"] = payment.currency
    erp.down_for = CREDIT_MEMOS
    queued = (await request_credit(gateway.client, body, "k")).json()
    replay = replayer(gateway.app.state.process)
    with pytest.raises(CreditPaidBack):  # finished by a replay, never given up
        await replay.close(
            queued["last_run"]["id"], status=RunStatus.DISCARDED, note="no", operator="ops"
        )
    memo = (await gateway.client.get(f"/v1/credit-memos/{queued['id']}")).json()
    assert memo["status"] == "approved"  # to be finished by a replay
