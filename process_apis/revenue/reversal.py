"""Reversing a posted recognition run: a reversing journal entry, never a delete.

prepare (one transaction): the run must be `posted`; the reversal is dated today, or by
the legal entity's closed-period policy; the workflow run is persisted. The steps book the
entry `RVR-...` (every line of the run's entry with its sign turned) in the recognition
journal. Then the run is `reversed`, its entries are free for the period's next run (a
new attempt, on request), and `revenue.recognition_reversed` is recorded.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core.models.base import utcnow
from core.models.revenue import RecognitionRunStatus
from core.models.workflow_run import WorkflowRunRow
from events.outbox import record
from events.schemas.revenue import RevenueRecognitionReversed, recognition_event
from process_apis.journal_booking import JournalPlan
from process_apis.journal_run import Booking, JournalRun
from process_apis.legal_entities.periods import posting_date_for
from process_apis.legal_entities.repository import get_legal_entity
from process_apis.revenue import recognition
from process_apis.revenue.errors import RecognitionRunNotPosted
from process_apis.revenue.journal import document_number, reversal_plan
from process_apis.revenue.schemas import RecognitionRun
from process_apis.revenue.workflow import (
    REVERSAL_WORKFLOW,
    RecognitionWorkflow,
    acknowledgement,
    resource,
)
from process_apis.runs.engine import failing, mark_succeeded
from process_apis.runs.replay import Replay
from process_apis.runs.repository import latest_run
from system_apis.erp.schemas import ErpJournalEntry

STEPS = ("ensure_revenue_journal", "add_reversing_entry", "post_reversing_entry")
REVERSAL_PREFIX = "RVR-"


class RecognitionReversalWorkflow(JournalRun[RecognitionRun]):
    workflow = REVERSAL_WORKFLOW
    steps = STEPS

    def replays(self) -> dict[str, Replay]:
        # Nothing to compensate: the recognition stays posted until a reversal books.
        return {self.workflow: Replay(resume=self.resume, discard=_nothing_to_compensate)}

    async def reverse(
        self,
        recognition_id: str,
        *,
        reason: str,
        client_id: str | None,
        correlation_id: str | None,
    ) -> RecognitionRun:
        return await self.book(
            recognition_id, Booking({"reason": reason}, client_id, correlation_id)
        )

    async def read(self, subject_id: str) -> RecognitionRun:
        return await RecognitionWorkflow(self.context).read(subject_id)

    async def record(self, plan: JournalPlan, entry: ErpJournalEntry) -> RecognitionRun:
        async with self.context.sessionmaker() as session:
            row = await recognition.get_run(session, plan.subject_id, for_update=True)
            run = await session.get_one(WorkflowRunRow, plan.run_id)
            row.status = RecognitionRunStatus.REVERSED
            row.reversed_at = utcnow()
            await recognition.free_entries(session, row.id)
            mark_succeeded(run, acknowledgement(entry))
            await record(session, recognition_event(RevenueRecognitionReversed, row, run))
            await session.commit()
            return await resource(session, row)

    async def prepare(self, subject_id: str, booking: Booking) -> JournalPlan | RecognitionRun:
        reason = str(booking.params.get("reason", ""))
        async with self.context.sessionmaker() as session:
            row = await recognition.get_run(session, subject_id, for_update=True)
            if row.status == RecognitionRunStatus.REVERSED:
                return await resource(session, row)
            if row.status != RecognitionRunStatus.POSTED:
                raise RecognitionRunNotPosted(
                    f"recognition run {row.id} is {row.status}: only a posted run is reversed"
                )
            latest = await latest_run(session, workflow=REVERSAL_WORKFLOW, subject_id=row.id)
            run = self.take(
                session,
                latest,
                subject_id=row.id,
                legal_entity_id=row.legal_entity_id,
                params={"reason": reason},
                booking=booking,
            )
            legal_entity = await get_legal_entity(session, row.legal_entity_id)
            async with failing(session, run):
                posting_date = posting_date_for(legal_entity, self.context.today())
            row.reversal_document_number = document_number(row.id, REVERSAL_PREFIX)
            row.reversal_posting_date = posting_date
            row.reversal_reason = reason
            plan = reversal_plan(
                run.id,
                row,
                await recognition.run_lines(session, row.id),
                company_id=legal_entity.erp_company_id,
                posting_date=posting_date,
                reason=reason,
                settings=self.context.settings.revenue,
            )
            await session.commit()
            return plan


async def _nothing_to_compensate(_session: AsyncSession, _run: WorkflowRunRow) -> None:
    """A discarded reversal leaves the recognition posted."""
