"""Revenue recognition in the reconciliation: per currency at the month's end, the proof
that billed = recognized + deferred schedule by schedule, and the schedules' deferred
revenue against the ERP's balance of the deferred revenue accounts (its general ledger
entries, as `GET /ops/v1/revenue/proof` reads them). A difference is keyed by the
drill-down to each schedule behind it (`/ops/v1/revenue/schedules?...`).
"""

from __future__ import annotations

from dataclasses import dataclass

from process_apis.deps import ProcessContext
from process_apis.reconciliation.schemas import (
    CAUSES,
    Cause,
    CurrencyTotals,
    Difference,
    DifferenceKind,
    DocumentType,
)
from process_apis.reconciliation.sources import Scope
from process_apis.revenue.reports import proof
from process_apis.revenue.schemas import ProofCurrency


@dataclass(frozen=True)
class RevenueCheck:
    differences: list[Difference]
    totals: list[CurrencyTotals]


async def revenue_check(context: ProcessContext, scope: Scope, period: str) -> RevenueCheck:
    proved = await proof(context, legal_entity_id=scope.legal_entity_id, period=period)
    found: list[Difference] = []
    totals: list[CurrencyTotals] = []
    for line in proved.currencies:
        totals.append(
            CurrencyTotals(
                document_type=DocumentType.DEFERRED_REVENUE,
                currency=line.currency,
                gateway_count=1,
                gateway_total=line.deferred,
                erp_count=0 if line.erp_deferred is None else 1,
                erp_total=line.erp_deferred or 0,
            )
        )
        found += [
            _difference(line, cause, drill_down=proved.schedules_url)
            for cause in causes(line, ended=scope.end < context.today())
        ]
    return RevenueCheck(found, totals)


def causes(line: ProofCurrency, *, ended: bool) -> list[Cause]:
    """What the proof of one currency shows wrong: schedules that do not add up; the ERP's
    balance not what the documents posted to deferred revenue and the recognition journals
    left (an entry booked, or removed, outside them); once the month has ended (before,
    it cannot be recognized), the journals not leaving the schedules' deferred revenue (a
    month not recognized, its journal queued, a reversal dated later)."""
    found = []
    if line.unbalanced_schedules:
        found.append(Cause.SCHEDULES_UNBALANCED)
    if line.erp_deferred is not None and line.erp_deferred != line.journaled_deferred:
        found.append(Cause.DEFERRED_BALANCE)
    if ended and line.journaled_deferred != line.deferred:
        found.append(Cause.DEFERRED_NOT_JOURNALED)
    return found


def _difference(line: ProofCurrency, cause: Cause, *, drill_down: str) -> Difference:
    return Difference(
        kind=DifferenceKind.AMOUNT_MISMATCH,
        document_type=DocumentType.DEFERRED_REVENUE,
        cause=cause,
        explanation=CAUSES[cause],
        key=drill_down,
        gateway_id=None,
        erp_number=None,
        currency=line.currency,
        gateway_amount=_ours(line, cause),
        erp_amount=None if cause == Cause.SCHEDULES_UNBALANCED else line.erp_deferred,
    )


def _ours(line: ProofCurrency, cause: Cause) -> int:
    """The gateway's figure a cause compares: billed (schedules that do not add up), what
    the journals left (against the ERP's balance), the schedules' deferred revenue."""
    if cause == Cause.SCHEDULES_UNBALANCED:
        return line.billed
    if cause == Cause.DEFERRED_BALANCE:
        return line.journaled_deferred
    return line.deferred
