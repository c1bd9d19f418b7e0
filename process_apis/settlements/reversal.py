"""Reversing a posted settlement: a reversing journal entry in the ERP, never a delete.

prepare (one transaction): the statement must be `posted`; the run is persisted with
the reason. The steps, with no transaction open: the settlement journal is ensured,
the reversing entry added (every line of the statement's entry with its sign turned,
document number `STR-` and the id's 16 characters, the settlement id and `-R` as
external document number, so a repeat adds nothing twice) and posted, dated today or
in the first open period. Then, in one transaction, the statement is `reversed` with
its reversal's document number, and its commission lines are unsettled again: the next
settlement run settles them as a prior-period adjustment.

A repeat of a reversed statement answers it as it is; a queued run is resumed.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import update

from core.canonical.base import fit
from core.canonical.documents import SettlementStatus
from core.canonical.parties import ClosedPeriodPolicy
from core.models.base import utcnow
from core.models.commission_line import CommissionLineRow
from core.models.settlement import SettlementRow
from events.outbox import record
from events.schemas.settlement import SettlementReversed, settlement_event
from process_apis.journal_booking import JournalPlan
from process_apis.journal_run import Booking, JournalRun
from process_apis.legal_entities.periods import resolve_posting_date
from process_apis.legal_entities.repository import get_legal_entity
from process_apis.runs.engine import failing, mark_succeeded
from process_apis.runs.repository import latest_run
from process_apis.settlements import service
from process_apis.settlements.errors import SettlementNotPosted
from process_apis.settlements.journal import booked
from process_apis.settlements.schemas import SettlementResource
from process_apis.settlements.workflow import journal_lines, resource
from system_apis.erp.schemas import (
    ErpJournalCreate,
    ErpJournalEntry,
    ErpJournalEntryCreate,
    ErpJournalLine,
)

WORKFLOW = "settlement_reversal"
STEPS = ("ensure_settlement_journal", "add_reversing_entry", "post_reversing_entry")
REVERSAL_PREFIX = "STR-"


def reversal_document_number(settlement_id: str) -> str:
    """`STR-` and the id's 16 random characters: within the ERP's 20."""
    return REVERSAL_PREFIX + settlement_id.rsplit("_", 1)[1][-16:].upper()


class SettlementReversalWorkflow(JournalRun[SettlementResource]):
    workflow = WORKFLOW
    steps = STEPS

    async def read(self, subject_id: str) -> SettlementResource:
        async with self.context.sessionmaker() as session:
            settlement = await service.get_settlement(session, subject_id)
            run = await latest_run(session, workflow=WORKFLOW, subject_id=settlement.id)
            return resource(settlement, run)

    async def reverse(
        self,
        settlement_id: str,
        *,
        reason: str,
        client_id: str | None,
        correlation_id: str | None,
    ) -> SettlementResource:
        """Reverse the posted statement in the ERP, or answer it reversed already."""
        return await self.book(
            settlement_id, Booking({"reason": reason}, client_id, correlation_id)
        )

    async def prepare(self, subject_id: str, booking: Booking) -> JournalPlan | SettlementResource:
        reason = str(booking.params.get("reason", ""))
        async with self.context.sessionmaker() as session:
            settlement = await service.get_settlement(session, subject_id, for_update=True)
            latest = await latest_run(session, workflow=WORKFLOW, subject_id=settlement.id)
            if settlement.status == SettlementStatus.REVERSED:
                return resource(settlement, latest)
            if settlement.status != SettlementStatus.POSTED:
                raise SettlementNotPosted(
                    f"settlement {settlement.id} is {settlement.status}: only a posted "
                    "statement is reversed (an unposted one is voided by discarding its run)"
                )
            run = self.take(
                session,
                latest,
                subject_id=settlement.id,
                legal_entity_id=settlement.legal_entity_id,
                params={"reason": reason},
                booking=booking,
            )
            legal_entity = await get_legal_entity(session, settlement.legal_entity_id)
            async with failing(session, run):
                posting_date = resolve_posting_date(
                    self.context.today(),
                    periods=list(legal_entity.periods),
                    policy=ClosedPeriodPolicy.ROLL_FORWARD,
                )
            plan = self._plan(settlement, run.id, legal_entity.erp_company_id, posting_date, reason)
            await session.commit()
            return plan

    def _plan(
        self,
        settlement: SettlementRow,
        run_id: str,
        company_id: str,
        posting_date: date,
        reason: str,
    ) -> JournalPlan:
        """The reversing entry: every line of the statement's entry with its sign turned."""
        ledger = self.context.settings.ledger
        text = fit(
            ErpJournalLine,
            "description",
            f"Reversal of {settlement.journal_document_number}: {reason}",
        )
        return JournalPlan(
            run_id=run_id,
            subject_id=settlement.id,
            company_id=company_id,
            journal=ErpJournalCreate(
                code=ledger.settlement_journal,
                display_name="Ledgergate partner settlements",
            ),
            entry=ErpJournalEntryCreate(
                document_number=reversal_document_number(settlement.id),
                external_document_number=f"{settlement.id}-R",
                posting_date=posting_date,
                currency=settlement.currency,
                lines=tuple(
                    ErpJournalLine(
                        account_number=line.account_number,
                        amount=-line.amount,
                        description=text,
                    )
                    for line in journal_lines(settlement, ledger=ledger)
                ),
            ),
        )

    async def record(self, plan: JournalPlan, entry: ErpJournalEntry) -> SettlementResource:
        async with self.context.sessionmaker() as session:
            settlement, run = await booked(session, plan, SettlementStatus.REVERSED)
            settlement.reversal_document_number = entry.document_number
            settlement.reversed_at = utcnow()
            await session.execute(
                update(CommissionLineRow)
                .where(CommissionLineRow.settlement_id == settlement.id)
                .values(settlement_id=None)
            )
            mark_succeeded(
                run,
                {
                    "erp_journal_id": entry.journal_id,
                    "document_number": entry.document_number,
                    "reverses": settlement.journal_document_number,
                },
            )
            await record(session, settlement_event(SettlementReversed, settlement, run))
            await session.commit()
            return resource(settlement, run)
