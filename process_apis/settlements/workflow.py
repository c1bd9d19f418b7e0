"""The settlement → ERP journal workflow, and the settlement run that feeds it.

prepare (one transaction): the statement moves `draft → approved`, its posting date
(the period's last day, or the next open period's first when that period is closed)
and currency (the legal entity's own: journal amounts are kept in it) are checked,
and the run is persisted. The steps, with no transaction open: the settlement journal
batch is ensured; the balanced entry is added (commission expense debited, claw-backs
credited to it apart, partner payable credited with the total, its document number
derived from the settlement id and the settlement id as external document number, so a
repeat adds only missing lines); the
journal is posted, unless the ledger already holds the entry. Then the ledger entries
are recorded and the statement is `posted`.

Discarding a run voids a statement whose entry never reached the ERP journal and
frees its lines for the next period's run; one whose entry is in the journal stays.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from core.canonical.base import fit
from core.canonical.documents import SETTLEMENT_STATUS, SettlementStatus
from core.canonical.parties import ClosedPeriodPolicy
from core.errors import LedgergateError
from core.metrics import SETTLEMENT_CYCLE
from core.models.base import utcnow
from core.models.commission_line import CommissionLineRow
from core.models.settlement import SettlementRow
from core.models.workflow_run import WorkflowRunRow
from core.settings import LedgerSettings
from events.outbox import record
from events.schemas.settlement import SettlementPosted, settlement_event
from process_apis.journal_booking import JournalPlan
from process_apis.journal_run import Booking, PostingJournalRun
from process_apis.legal_entities.periods import resolve_posting_date
from process_apis.legal_entities.repository import get_legal_entity, list_legal_entities
from process_apis.runs.engine import failing, mark_succeeded
from process_apis.runs.errors import RunInProgress
from process_apis.runs.repository import latest_run
from process_apis.runs.schemas import RunSummary, run_url
from process_apis.settlements import service
from process_apis.settlements.errors import (
    SettlementAccountingPeriodOpen,
    SettlementCurrencyNotFunctional,
    SettlementInErpJournal,
    SettlementPeriodOpen,
    SettlementVoid,
)
from process_apis.settlements.journal import booked
from process_apis.settlements.schemas import (
    SettlementResource,
    SettlementRunResult,
    period_bounds,
)
from system_apis.erp.schemas import (
    ErpJournalCreate,
    ErpJournalEntry,
    ErpJournalEntryCreate,
    ErpJournalLine,
)

WORKFLOW = "settlement_posting"
STEPS = ("ensure_settlement_journal", "add_journal_entry", "post_journal_entry")
UNPOSTED = (SettlementStatus.DRAFT, SettlementStatus.APPROVED)
JOURNAL_PREFIX = "STL-"


def cycle_seconds(period_end: date, posted_at: datetime) -> float:
    """Settlement cycle time: from the close of the statement's period (the day after its
    last day, 00:00 UTC) to its ERP journal posting; 0 when posted before the period closed.
    """
    closed = datetime.combine(period_end + timedelta(days=1), time(), tzinfo=UTC)
    return max(0.0, (posted_at - closed).total_seconds())


def journal_document_number(settlement_id: str) -> str:
    """`STL-` and the id's 16 random characters: within the ERP's 20."""
    return JOURNAL_PREFIX + settlement_id.rsplit("_", 1)[1][-16:].upper()


def resource(settlement: SettlementRow, run: WorkflowRunRow | None) -> SettlementResource:
    fields = SettlementResource.model_fields.keys() & _ROW
    return SettlementResource.model_validate(
        {
            **{name: getattr(settlement, name) for name in fields},
            "refs": settlement.refs,
            "last_run": RunSummary.model_validate(run) if run is not None else None,
            "run_url": run_url(run.id) if run is not None else None,
        }
    )


_ROW = frozenset(SettlementRow.__table__.columns.keys())


def journal_lines(
    settlement: SettlementRow, *, ledger: LedgerSettings
) -> tuple[ErpJournalLine, ...]:
    """Commission expense debited (the month's, apart its claw-backs credited, apart the
    prior-period adjustment), partner payable credited with the total; no line of zero (a
    month whose claw-backs cancel what it earned journals the two expense lines alone)."""
    month = f"{settlement.partner_id} {settlement.period_start:%Y-%m}"
    current = settlement.total_commission - settlement.adjustment_total
    expense, payable = ledger.commission_expense_account, ledger.commission_payable_account
    lines = (
        (expense, current - settlement.clawback_total, f"Commissions {month}"),
        (expense, settlement.clawback_total, f"Commission claw-backs {month}"),
        (expense, settlement.adjustment_total, f"Prior-period commission adjustment {month}"),
        (payable, -settlement.total_commission, f"Commissions {month}"),
    )
    return tuple(
        ErpJournalLine(
            account_number=account,
            amount=amount,
            description=fit(ErpJournalLine, "description", text),
        )
        for account, amount, text in lines
        if amount
    )


class SettlementPostingWorkflow(PostingJournalRun[SettlementResource]):
    workflow = WORKFLOW
    steps = STEPS

    async def read(self, subject_id: str) -> SettlementResource:
        async with self.context.sessionmaker() as session:
            settlement = await service.get_settlement(session, subject_id)
            run = await latest_run(session, workflow=WORKFLOW, subject_id=settlement.id)
            return resource(settlement, run)

    async def run_period(
        self,
        period: str,
        *,
        legal_entity_id: str | None = None,
        client_id: str | None,
        correlation_id: str | None,
        progress: Callable[[int, int], None] | None = None,
    ) -> SettlementRunResult:
        """Settle an ended month: draw up its missing statements, then post every unposted one.

        `progress(done, total)` is told after each statement's posting.
        """
        period_start, period_end = period_bounds(period)
        if period_end >= self.context.today():
            raise SettlementPeriodOpen(
                f"{period} ends on {period_end}: it can be settled from "
                f"{period_end + timedelta(days=1)}",
                settleable_from=(period_end + timedelta(days=1)).isoformat(),
            )
        unposted, drawn_up, awaiting = await self._draw_up(
            period_start, period_end, legal_entity_id=legal_entity_id, client_id=client_id
        )
        for done, settlement_id in enumerate(unposted, 1):
            try:
                await self.book(settlement_id, Booking({}, client_id, correlation_id))
            except (RunInProgress, SettlementVoid):
                pass  # another request has it, or an operator gave it up: shown as it is
            except LedgergateError:
                pass  # recorded on its run, which waits in the exception queue
            if progress is not None:
                progress(done, len(unposted))
        async with self.context.sessionmaker() as session:
            rows = [
                row
                for row in await service.period_settlements(session, period_start)
                if legal_entity_id is None or row.legal_entity_id == legal_entity_id
            ]
            runs = {
                row.id: await latest_run(session, workflow=WORKFLOW, subject_id=row.id)
                for row in rows
            }
            return SettlementRunResult(
                period=period,
                period_start=period_start,
                period_end=period_end,
                drawn_up=drawn_up,
                awaiting_period_close=awaiting,
                settlements=[resource(row, runs[row.id]) for row in rows],
            )

    async def _draw_up(
        self,
        period_start: date,
        period_end: date,
        *,
        legal_entity_id: str | None,
        client_id: str | None,
    ) -> tuple[list[str], int, list[str]]:
        """Draw up the month's missing statements of the legal entities (one, or every one)
        that may settle it: the unposted statements' ids, how many were drawn up, and the
        legal entities still waiting for their accounting period to close."""
        after_close = self.context.settings.settlements.after_period_close
        async with self.context.sessionmaker() as session:
            if legal_entity_id is None:
                entities = list(await list_legal_entities(session))
            else:
                entities = [await get_legal_entity(session, legal_entity_id)]
            awaiting = [
                le
                for le in entities
                if service.awaits_period_close(le, period_end, after_period_close=after_close)
            ]
            if legal_entity_id is not None and awaiting:
                raise SettlementAccountingPeriodOpen(
                    f"{awaiting[0].code} settles a month once its accounting period is closed, "
                    f"and the period holding {period_end} is not",
                    legal_entity_id=legal_entity_id,
                )
            settlements, drawn_up = await service.draw_up(
                session,
                period_start=period_start,
                period_end=period_end,
                legal_entity_ids=[le.id for le in entities if le not in awaiting],
                settled_by=client_id,
            )
            chosen = {le.id for le in entities}
            unposted = [
                s.id for s in settlements if s.status in UNPOSTED and s.legal_entity_id in chosen
            ]
            await session.commit()
        return unposted, drawn_up, [le.id for le in awaiting]

    async def lock_unposted(self, session: AsyncSession, subject_id: str) -> bool:
        settlement = await service.get_settlement(session, subject_id, for_update=True)
        return settlement.status in UNPOSTED

    def in_journal(self, subject_id: str) -> LedgergateError:
        return SettlementInErpJournal(
            f"the entry of settlement {subject_id} is in the ERP journal; replay the run "
            "or resolve it"
        )

    async def void(self, session: AsyncSession, subject_id: str) -> None:
        settlement = await service.get_settlement(session, subject_id, for_update=True)
        settlement.status = SETTLEMENT_STATUS.check(
            SettlementStatus(settlement.status), SettlementStatus.VOID
        )
        await session.execute(
            update(CommissionLineRow)
            .where(CommissionLineRow.settlement_id == settlement.id)
            .values(settlement_id=None)
        )

    async def prepare(self, subject_id: str, booking: Booking) -> JournalPlan | SettlementResource:
        async with self.context.sessionmaker() as session:
            settlement = await service.get_settlement(session, subject_id, for_update=True)
            run = await latest_run(session, workflow=WORKFLOW, subject_id=settlement.id)
            if settlement.status not in UNPOSTED:
                if settlement.status == SettlementStatus.VOID:
                    raise SettlementVoid(f"settlement {settlement.id} was voided")
                return resource(settlement, run)
            run = self.take(
                session,
                run,
                subject_id=settlement.id,
                legal_entity_id=settlement.legal_entity_id,
                params={"period_start": settlement.period_start.isoformat()},
                booking=booking,
            )
            if settlement.status == SettlementStatus.DRAFT:
                settlement.status = SETTLEMENT_STATUS.check(
                    SettlementStatus.DRAFT, SettlementStatus.APPROVED
                )
            legal_entity = await get_legal_entity(session, settlement.legal_entity_id)
            async with failing(session, run):
                if settlement.currency != legal_entity.functional_currency:
                    raise SettlementCurrencyNotFunctional(
                        f"commissions in {settlement.currency} cannot be journaled by "
                        f"{legal_entity.code}, which keeps its books in "
                        f"{legal_entity.functional_currency}"
                    )
                # A month is settled after it ends, often after its books close: the journal
                # is the gateway's own document, dated in the first open period.
                posting_date = resolve_posting_date(
                    settlement.period_end,
                    periods=list(legal_entity.periods),
                    policy=ClosedPeriodPolicy.ROLL_FORWARD,
                )
            settlement.posting_date = posting_date
            settlement.journal_document_number = journal_document_number(settlement.id)
            plan = _plan(
                run.id,
                settlement,
                legal_entity.erp_company_id,
                posting_date=posting_date,
                ledger=self.context.settings.ledger,
            )
            await session.commit()
            return plan

    async def record(self, plan: JournalPlan, entry: ErpJournalEntry) -> SettlementResource:
        async with self.context.sessionmaker() as session:
            settlement, run = await booked(session, plan, SettlementStatus.POSTED)
            settlement.erp_ref = entry.journal_id
            settlement.posted_at = utcnow()
            mark_succeeded(run, _acknowledgement(entry))
            await record(session, settlement_event(SettlementPosted, settlement, run))
            await session.commit()
            SETTLEMENT_CYCLE.observe(cycle_seconds(settlement.period_end, settlement.posted_at))
            return resource(settlement, run)


def _acknowledgement(entry: ErpJournalEntry) -> dict[str, Any]:
    return {
        "erp_journal_id": entry.journal_id,
        "document_number": entry.document_number,
        "ledger_entries": [
            {
                "account_number": ledger.account_number,
                "debit": ledger.debit,
                "credit": ledger.credit,
                "posting_date": ledger.posting_date.isoformat() if ledger.posting_date else None,
            }
            for ledger in entry.ledger_entries
        ],
        "balanced": sum(e.debit for e in entry.ledger_entries)
        == sum(e.credit for e in entry.ledger_entries),
    }


def _plan(
    run_id: str,
    settlement: SettlementRow,
    company_id: str,
    *,
    posting_date: date,
    ledger: LedgerSettings,
) -> JournalPlan:
    """The balanced journal entry: commission expense against commissions payable."""
    return JournalPlan(
        run_id=run_id,
        subject_id=settlement.id,
        company_id=company_id,
        journal=ErpJournalCreate(
            code=ledger.settlement_journal, display_name="Ledgergate partner settlements"
        ),
        entry=ErpJournalEntryCreate(
            document_number=settlement.journal_document_number or "",
            external_document_number=settlement.id,
            posting_date=posting_date,
            currency=settlement.currency,
            lines=journal_lines(settlement, ledger=ledger),
        ),
    )
