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
            _difference(line, cause, drill_down=proved.schedules_url) for cause in causes(line)
        ]
    return RevenueCheck(found, totals)


def causes(line: ProofCurrency) -> list[Cause]:
    """What the proof of one currency shows wrong: schedules that do not add up; the ERP's
    deferred revenue not the schedules', because the journals have not moved it yet (a
    month not recognized, or its journal queued) or because the ERP's balance is not what
    the journals left (an entry booked, or removed, outside them)."""
    found = []
    if line.unbalanced_schedules:
        found.append(Cause.SCHEDULES_UNBALANCED)
    if line.erp_deferred is not None and line.erp_deferred != line.deferred:
        journaled = line.journaled_deferred == line.erp_deferred
        found.append(Cause.DEFERRED_NOT_JOURNALED if journaled else Cause.DEFERRED_BALANCE)
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
        gateway_amount=line.billed if cause == Cause.SCHEDULES_UNBALANCED else line.deferred,
        erp_amount=None if cause == Cause.SCHEDULES_UNBALANCED else line.erp_deferred,
    )
