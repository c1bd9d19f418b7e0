"""A settlement's journal entry (its posting and its reversal both book it with
`process_apis.erp_journals`), and the statement moved on once it is booked."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from core.canonical.documents import SETTLEMENT_STATUS, SettlementStatus
from core.models.settlement import SettlementRow
from core.models.workflow_run import WorkflowRunRow
from process_apis.erp_journals import JournalBooking
from process_apis.settlements import service


@dataclass(frozen=True)
class JournalPlan(JournalBooking):
    """A settlement's journal entry (or its reversal) to book, as its run's steps need it."""

    settlement_id: str


async def booked(
    session: AsyncSession, plan: JournalPlan, status: SettlementStatus
) -> tuple[SettlementRow, WorkflowRunRow]:
    """The plan's settlement, locked and moved to `status` now its entry is booked, and its run."""
    settlement = await service.get_settlement(session, plan.settlement_id, for_update=True)
    settlement.status = SETTLEMENT_STATUS.check(SettlementStatus(settlement.status), status)
    return settlement, await session.get_one(WorkflowRunRow, plan.run_id)
