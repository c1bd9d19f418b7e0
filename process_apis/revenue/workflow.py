"""The recognition workflow: a month's runs drawn up, each journaled in the ERP.

prepare (one transaction): the run's posting date (the month's last day, or by the legal
entity's closed-period policy: `reject` fails the run as a business exception until the
period is reopened, `roll_forward` dates it in the next open period) and currency (the
legal entity's own) are checked, and the workflow run is persisted. The steps, with no
transaction open: the recognition journal is ensured, the balanced entry added (document
number from the run's id, the run's id as external document number, so a repeat adds
only missing lines), the journal posted. Then the run is `posted` and
`revenue.recognized` recorded.

Discarding a queued run voids a recognition whose entry never reached the ERP journal
and frees its entries for the period's next run.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.canonical.parties import ClosedPeriodPolicy
from core.errors import LedgergateError
from core.models.base import utcnow
from core.models.revenue import RecognitionRunRow, RecognitionRunStatus
from core.models.workflow_run import WorkflowRunRow
from events.outbox import record
from events.schemas.revenue import RevenueRecognized, recognition_event
from process_apis.journal_booking import JournalPlan
from process_apis.journal_run import Booking, PostingJournalRun
from process_apis.legal_entities.periods import resolve_posting_date
from process_apis.legal_entities.repository import get_legal_entity
from process_apis.revenue import recognition, schedules
from process_apis.revenue.errors import (
    RecognitionInErpJournal,
    RevenueCurrencyNotFunctional,
    RevenuePeriodOpen,
)
from process_apis.revenue.journal import document_number, recognition_plan
from process_apis.revenue.plan import next_month, period_bounds
from process_apis.revenue.schemas import RecognitionRun, RecognitionRunLine, RecognitionRunResult
from process_apis.runs.engine import failing, mark_succeeded
from process_apis.runs.errors import RunInProgress
from process_apis.runs.repository import latest_run
from process_apis.runs.schemas import RunSummary, run_url
from system_apis.erp.schemas import ErpJournalEntry

WORKFLOW = "revenue_recognition"
REVERSAL_WORKFLOW = "revenue_recognition_reversal"
STEPS = ("ensure_revenue_journal", "add_recognition_entry", "post_recognition_entry")
JOURNAL_PREFIX = "REV-"


async def resource(session: AsyncSession, row: RecognitionRunRow) -> RecognitionRun:
    """The run with its lines and its latest workflow run: its reversal's, else its posting's."""
    run = await latest_run(session, workflow=REVERSAL_WORKFLOW, subject_id=row.id)
    if run is None:
        run = await latest_run(session, workflow=WORKFLOW, subject_id=row.id)
    lines = await recognition.run_lines(session, row.id)
    fields = RecognitionRun.model_fields.keys() - {"lines", "last_run", "run_url"}
    return RecognitionRun.model_validate(
        {
            **{name: getattr(row, name) for name in fields},
            "lines": [RecognitionRunLine.model_validate(line) for line in lines],
            "last_run": RunSummary.model_validate(run) if run is not None else None,
            "run_url": run_url(run.id) if run is not None else None,
        }
    )


class RecognitionWorkflow(PostingJournalRun[RecognitionRun]):
    workflow = WORKFLOW
    steps = STEPS

    async def read(self, subject_id: str) -> RecognitionRun:
        async with self.context.sessionmaker() as session:
            return await resource(session, await recognition.get_run(session, subject_id))

    async def run_period(
        self,
        period: str,
        *,
        legal_entity_id: str,
        client_id: str | None,
        correlation_id: str | None,
    ) -> RecognitionRunResult:
        """Recognize an ended month: draw up its missing runs, then journal every draft one."""
        period_start, period_end = period_bounds(period)
        if period_end >= self.context.today():
            raise RevenuePeriodOpen(
                f"{period} ends on {period_end}: its revenue can be recognized from "
                f"{next_month(period_start)}",
                recognizable_from=next_month(period_start).isoformat(),
            )
        async with self.context.sessionmaker() as session:
            legal_entity = await get_legal_entity(session, legal_entity_id)
            await schedules.sync(
                session,
                settings=self.context.settings.revenue,
                today=self.context.today(),
                legal_entity_id=legal_entity.id,
            )
            runs, drawn_up = await recognition.draw_up(
                session, legal_entity=legal_entity, period_start=period_start, period_end=period_end
            )
            drafts = [run.id for run in runs if run.status == RecognitionRunStatus.DRAFT]
            await session.commit()
        for recognition_id in drafts:
            try:
                await self.book(recognition_id, Booking({}, client_id, correlation_id))
            except RunInProgress:
                pass  # another request is journaling it: shown as it is
            except LedgergateError:
                pass  # recorded on its workflow run, which waits in the exception queue
        async with self.context.sessionmaker() as session:
            rows = await recognition.period_runs(session, legal_entity_id, period_start)
            return RecognitionRunResult(
                legal_entity_id=legal_entity_id,
                period=period,
                drawn_up=drawn_up,
                runs=[await resource(session, row) for row in rows],
            )

    async def lock_unposted(self, session: AsyncSession, subject_id: str) -> bool:
        row = await recognition.get_run(session, subject_id, for_update=True)
        return row.status == RecognitionRunStatus.DRAFT

    def in_journal(self, subject_id: str) -> LedgergateError:
        return RecognitionInErpJournal(
            f"the entry of recognition run {subject_id} is in the ERP journal; replay the run "
            "or resolve it"
        )

    async def void(self, session: AsyncSession, subject_id: str) -> None:
        row = await recognition.get_run(session, subject_id, for_update=True)
        row.status = RecognitionRunStatus.VOID
        await recognition.free_entries(session, row.id)

    async def prepare(self, subject_id: str, booking: Booking) -> JournalPlan | RecognitionRun:
        async with self.context.sessionmaker() as session:
            row = await recognition.get_run(session, subject_id, for_update=True)
            latest = await latest_run(session, workflow=WORKFLOW, subject_id=row.id)
            if row.status != RecognitionRunStatus.DRAFT:
                return await resource(session, row)
            run = self.take(
                session,
                latest,
                subject_id=row.id,
                legal_entity_id=row.legal_entity_id,
                params={"period_start": row.period_start.isoformat()},
                booking=booking,
            )
            legal_entity = await get_legal_entity(session, row.legal_entity_id)
            async with failing(session, run):
                if row.currency != legal_entity.functional_currency:
                    raise RevenueCurrencyNotFunctional(
                        f"revenue in {row.currency} cannot be journaled by {legal_entity.code}, "
                        f"which keeps its books in {legal_entity.functional_currency}"
                    )
                posting_date = resolve_posting_date(
                    row.period_end,
                    periods=list(legal_entity.periods),
                    policy=ClosedPeriodPolicy(legal_entity.closed_period_policy),
                )
            row.posting_date = posting_date
            row.journal_document_number = document_number(row.id, JOURNAL_PREFIX)
            plan = recognition_plan(
                run.id,
                row,
                await recognition.run_lines(session, row.id),
                company_id=legal_entity.erp_company_id,
                posting_date=posting_date,
                settings=self.context.settings.revenue,
            )
            await session.commit()
            return plan

    async def record(self, plan: JournalPlan, entry: ErpJournalEntry) -> RecognitionRun:
        async with self.context.sessionmaker() as session:
            row = await recognition.get_run(session, plan.subject_id, for_update=True)
            run = await session.get_one(WorkflowRunRow, plan.run_id)
            row.status = RecognitionRunStatus.POSTED
            row.erp_ref = entry.journal_id
            row.posted_at = utcnow()
            mark_succeeded(run, acknowledgement(entry))
            await record(session, recognition_event(RevenueRecognized, row, run))
            await session.commit()
            return await resource(session, row)


def acknowledgement(entry: ErpJournalEntry) -> dict[str, Any]:
    return {
        "erp_journal_id": entry.journal_id,
        "document_number": entry.document_number,
        "ledger_entries": [
            {"account_number": e.account_number, "debit": e.debit, "credit": e.credit}
            for e in entry.ledger_entries
        ],
    }
