"""A settlement whose journal entry (or its reversal's) is booked: see `journal_booking`."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core.canonical.documents import SETTLEMENT_STATUS, SettlementStatus
from core.models.settlement import SettlementRow
from core.models.workflow_run import WorkflowRunRow
from process_apis.journal_booking import JournalPlan
from process_apis.settlements import service


async def booked(
    session: AsyncSession, plan: JournalPlan, status: SettlementStatus
) -> tuple[SettlementRow, WorkflowRunRow]:
    """The plan's settlement, locked and moved to `status` now its entry is booked, and its run."""
    settlement = await service.get_settlement(session, plan.subject_id, for_update=True)
    settlement.status = SETTLEMENT_STATUS.check(SettlementStatus(settlement.status), status)
    return settlement, await session.get_one(WorkflowRunRow, plan.run_id)
