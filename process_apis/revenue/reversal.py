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
from process_apis.deps import ProcessContext
from process_apis.journal_booking import JournalPlan, attempt_booking
from process_apis.legal_entities.periods import posting_date_for
from process_apis.legal_entities.repository import get_legal_entity
from process_apis.revenue import recognition
from process_apis.revenue.errors import RecognitionRunNotPosted
from process_apis.revenue.journal import document_number, reversal_plan
from process_apis.revenue.schemas import RecognitionRun
from process_apis.revenue.workflow import REVERSAL_WORKFLOW, acknowledgement, resource
from process_apis.runs.engine import Engine, failing, mark_succeeded
from process_apis.runs.replay import Replay
from process_apis.runs.repository import latest_run

STEPS = ("ensure_revenue_journal", "add_reversing_entry", "post_reversing_entry")
REVERSAL_PREFIX = "RVR-"


class RecognitionReversalWorkflow:
    def __init__(self, context: ProcessContext) -> None:
        self.context = context
        self.engine = Engine(context.sessionmaker, steps=STEPS, lease=context.settings.run_lease)

    def replays(self) -> dict[str, Replay]:
        return {REVERSAL_WORKFLOW: Replay(resume=self.resume, discard=self.discard)}

    async def reverse(
        self,
        recognition_id: str,
        *,
        reason: str,
        client_id: str | None,
        correlation_id: str | None,
        claimed_run_id: str | None = None,
    ) -> RecognitionRun:
        plan = await self._prepare(
            recognition_id,
            reason=reason,
            client_id=client_id,
            correlation_id=correlation_id,
            claimed_run_id=claimed_run_id,
        )
        if isinstance(plan, RecognitionRun):
            return plan
        entry = await attempt_booking(self.engine, self.context.erp, plan, steps=STEPS)
        async with self.context.sessionmaker() as session:
            row = await recognition.get_run(session, recognition_id, for_update=True)
            if entry is not None:
                run = await session.get_one(WorkflowRunRow, plan.run_id)
                row.status = RecognitionRunStatus.REVERSED
                row.reversed_at = utcnow()
                await recognition.free_entries(session, row.id)
                mark_succeeded(run, acknowledgement(entry))
                await record(session, recognition_event(RevenueRecognitionReversed, row, run))
                await session.commit()
            return await resource(session, row)

    async def resume(self, run_id: str) -> RecognitionRun:
        run = await self.engine.load(run_id)
        return await self.reverse(
            run.subject_id,
            reason=str(run.params.get("reason", "")),
            client_id=run.client_id,
            correlation_id=run.correlation_id,
            claimed_run_id=run_id,
        )

    async def discard(self, session: AsyncSession, run: WorkflowRunRow) -> None:
        """Nothing to compensate: the recognition stays posted until a reversal books."""

    async def _prepare(
        self,
        recognition_id: str,
        *,
        reason: str,
        client_id: str | None,
        correlation_id: str | None,
        claimed_run_id: str | None,
    ) -> JournalPlan | RecognitionRun:
        async with self.context.sessionmaker() as session:
            row = await recognition.get_run(session, recognition_id, for_update=True)
            if row.status == RecognitionRunStatus.REVERSED:
                return await resource(session, row)
            if row.status != RecognitionRunStatus.POSTED:
                raise RecognitionRunNotPosted(
                    f"recognition run {row.id} is {row.status}: only a posted run is reversed"
                )
            latest = await latest_run(session, workflow=REVERSAL_WORKFLOW, subject_id=row.id)
            run = self.engine.take(
                session,
                latest,
                workflow=REVERSAL_WORKFLOW,
                subject_id=row.id,
                legal_entity_id=row.legal_entity_id,
                params={"reason": reason},
                correlation_id=correlation_id,
                client_id=client_id,
                claimed_run_id=claimed_run_id,
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
