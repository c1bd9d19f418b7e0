"""The customer's open credit a billing payment was netted with.

Billing keeps a customer's credit (a support credit settled `customer_balance`: its
credit note's `credit_amount`) as the customer's balance and takes it off the next
invoice it finalizes: that invoice's `invoice.paid` collects its total less the credit
(`amount_paid`), and the payment records the credit taken as `balance_applied`. In the ERP
that credit is the open credit memo each such support credit posted (left unapplied), so
the payment settles the ERP invoice with those memos and the cash: the memos, oldest first,
each up to what it has not applied yet, for `balance_applied` in all. What the memos
applied before is read from the `apply_credit_memo:<memo id>` steps that succeeded in
other payment runs (their outcome is the ERP's application). When the memos hold less
open credit than billing took, the amounts disagree: `PaymentBalanceUnmatched`, before
anything is applied.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.canonical.documents import CreditMemoStatus, CreditSettlement
from core.models.credit_memo import CreditMemoRow
from core.models.payment import PaymentRow
from core.models.workflow_run import StepStatus, WorkflowStepRow
from process_apis.payments.errors import PaymentBalanceUnmatched

STEP = "apply_credit_memo"


@dataclass(frozen=True)
class CreditToApply:
    """One open credit memo's share of the payment's `balance_applied`."""

    credit_memo_id: str
    erp_credit_memo_id: str
    amount: int  # this payment's share of the memo
    applied_before: int  # what other payments applied of the memo to the same ERP invoice

    @property
    def step(self) -> str:
        return step_name(self.credit_memo_id)


def step_name(credit_memo_id: str) -> str:
    return f"{STEP}:{credit_memo_id}"


async def credits_to_apply(
    session: AsyncSession, payment: PaymentRow, *, erp_invoice_id: str, run_id: str
) -> list[CreditToApply]:
    """The open credit memos that make up the payment's `balance_applied`, oldest first."""
    if payment.balance_applied <= 0:
        return []
    memos = (
        await session.scalars(
            select(CreditMemoRow)
            .where(
                CreditMemoRow.customer_id == payment.customer_id,
                CreditMemoRow.legal_entity_id == payment.legal_entity_id,
                CreditMemoRow.currency == payment.currency,
                CreditMemoRow.settlement == CreditSettlement.CUSTOMER_BALANCE.value,
                CreditMemoRow.status == CreditMemoStatus.POSTED,
                CreditMemoRow.erp_ref.is_not(None),
            )
            .order_by(CreditMemoRow.posting_date, CreditMemoRow.id)
        )
    ).all()
    applied = await _applied(session, [memo.id for memo in memos], run_id=run_id)
    left = payment.balance_applied
    shares: list[CreditToApply] = []
    for memo in memos:
        used = sum(amount for (memo_id, _), amount in applied.items() if memo_id == memo.id)
        share = min((memo.erp_total_including_tax or 0) - used, left)
        if share <= 0:
            continue
        shares.append(
            CreditToApply(
                credit_memo_id=memo.id,
                erp_credit_memo_id=memo.erp_ref or "",
                amount=share,
                applied_before=applied.get((memo.id, erp_invoice_id), 0),
            )
        )
        left -= share
        if left == 0:
            return shares
    open_credit = payment.balance_applied - left
    raise PaymentBalanceUnmatched(
        f"billing paid {payment.balance_applied} {payment.currency} of invoice "
        f"{payment.invoice_id} from the customer's credit balance, but the customer's open "
        f"credit memos hold {open_credit} {payment.currency}: the amounts disagree",
        balance_applied=payment.balance_applied,
        open_credit=open_credit,
    )


async def _applied(
    session: AsyncSession, memo_ids: list[str], *, run_id: str
) -> dict[tuple[str, str], int]:
    """What other payment runs applied of each memo, per ERP invoice (an application sets
    the amount for its pair, so the largest recorded is the one in force)."""
    if not memo_ids:
        return {}
    steps = await session.execute(
        select(WorkflowStepRow.name, WorkflowStepRow.outcome).where(
            WorkflowStepRow.name.in_([step_name(memo_id) for memo_id in memo_ids]),
            WorkflowStepRow.status == StepStatus.SUCCEEDED,
            WorkflowStepRow.run_id != run_id,
        )
    )
    applied: dict[tuple[str, str], int] = {}
    for name, outcome in steps.all():
        if not outcome:
            continue
        key = (name.partition(":")[2], str(outcome["invoice_id"]))
        applied[key] = max(applied.get(key, 0), int(outcome["amount"]))
    return applied
