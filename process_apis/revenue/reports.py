"""What the schedules say: an invoice's schedules, the waterfall of a legal entity, the
proof that billed = recognized + deferred (schedule by schedule, and against the ERP's
deferred revenue balance), and each schedule's figures for the drill-down."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import NotFound
from core.models.amendment_proration import AmendmentProrationRow
from core.models.customer import CustomerRow
from core.models.invoice import InvoiceLineRow, InvoiceRow
from core.models.revenue import (
    EntryKind,
    RecognitionRunRow,
    RecognitionRunStatus,
    RevenueAdjustmentRow,
    RevenueEntryRow,
    RevenueScheduleRow,
)
from core.models.subscription import SubscriptionRow
from core.pagination import decode_cursor, next_cursor
from process_apis.deps import ProcessContext
from process_apis.legal_entities.repository import get_legal_entity
from process_apis.revenue import schedules
from process_apis.revenue.plan import next_month, period_bounds
from process_apis.revenue.schemas import (
    InvoiceRevenueSchedule,
    ProofCurrency,
    RevenueProof,
    RevenueSchedule,
    ScheduleAdjustment,
    ScheduleBalance,
    ScheduleBalances,
    ScheduleMonth,
    Waterfall,
    WaterfallMonth,
)

_BILLED = (EntryKind.DEFERRAL, EntryKind.BOOKED)
_DEFERRAL = case((RevenueEntryRow.kind.in_(_BILLED), RevenueEntryRow.amount), else_=0)
_EARNED = case((RevenueEntryRow.kind == EntryKind.RECOGNITION, RevenueEntryRow.amount), else_=0)


async def invoice_schedule(context: ProcessContext, invoice_id: str) -> InvoiceRevenueSchedule:
    async with context.sessionmaker() as session:
        if await session.get(InvoiceRow, invoice_id) is None:
            raise NotFound(f"no invoice {invoice_id}")
        await schedules.sync(
            session,
            settings=context.settings.revenue,
            today=context.today(),
            invoice_id=invoice_id,
        )
        await session.commit()
        rows = (
            await session.scalars(
                select(RevenueScheduleRow)
                .join(InvoiceLineRow, InvoiceLineRow.id == RevenueScheduleRow.invoice_line_id)
                .where(RevenueScheduleRow.invoice_id == invoice_id)
                .order_by(InvoiceLineRow.sequence)
            )
        ).all()
        return InvoiceRevenueSchedule(
            invoice_id=invoice_id, schedules=[await _schedule(session, row) for row in rows]
        )


async def _schedule(session: AsyncSession, row: RevenueScheduleRow) -> RevenueSchedule:
    posted = case(
        (RecognitionRunRow.status == RecognitionRunStatus.POSTED, RevenueEntryRow.amount), else_=0
    )
    months = (
        await session.execute(
            select(RevenueEntryRow.period, func.sum(RevenueEntryRow.amount), func.sum(posted))
            .outerjoin(RecognitionRunRow, RecognitionRunRow.id == RevenueEntryRow.run_id)
            .where(
                RevenueEntryRow.schedule_id == row.id,
                RevenueEntryRow.kind == EntryKind.RECOGNITION,
            )
            .group_by(RevenueEntryRow.period)
            .order_by(RevenueEntryRow.period)
        )
    ).all()
    adjustments = (
        await session.scalars(
            select(RevenueAdjustmentRow)
            .where(RevenueAdjustmentRow.schedule_id == row.id)
            .order_by(RevenueAdjustmentRow.id)
        )
    ).all()
    billed = row.amount + sum(adjustment.amount for adjustment in adjustments)
    recognized = sum(int(done or 0) for _, _, done in months)
    return RevenueSchedule(
        id=row.id,
        invoice_id=row.invoice_id,
        invoice_line_id=row.invoice_line_id,
        product_id=row.product_id,
        method=row.method,
        service_period_start=row.service_start,
        service_period_end=row.service_end,
        currency=row.currency,
        amount=row.amount,
        billed=billed,
        recognized=recognized,
        deferred=billed - recognized,
        deferred_account=row.deferred_account,
        revenue_account=row.revenue_account,
        adjustments=[ScheduleAdjustment.model_validate(a) for a in adjustments],
        months=[
            ScheduleMonth(month=f"{period:%Y-%m}", amount=int(amount), recognized=int(done or 0))
            for period, amount, done in months
        ],
    )


async def waterfall(
    context: ProcessContext, *, legal_entity_id: str, from_month: str, to_month: str
) -> Waterfall:
    """Per currency and month of `from_month..to_month`: billed into deferred revenue,
    earned, and the deferred revenue left at the month's end (everything before counted)."""
    first, _ = period_bounds(from_month)
    last, _ = period_bounds(to_month)
    async with context.sessionmaker() as session:
        await _synced(context, session, legal_entity_id)
        totals = (
            await session.execute(
                select(
                    RevenueEntryRow.currency,
                    RevenueEntryRow.period,
                    func.sum(_DEFERRAL),
                    func.sum(_EARNED),
                )
                .where(
                    RevenueEntryRow.legal_entity_id == legal_entity_id,
                    RevenueEntryRow.period <= last,
                )
                .group_by(RevenueEntryRow.currency, RevenueEntryRow.period)
            )
        ).all()
    by_currency: dict[str, dict[date, tuple[int, int]]] = defaultdict(dict)
    for currency, period, billed, earned in totals:
        by_currency[currency][period] = (int(billed or 0), int(earned or 0))
    months: list[WaterfallMonth] = []
    for currency, periods in sorted(by_currency.items()):
        deferred = sum(b - e for period, (b, e) in periods.items() if period < first)
        month = first
        while month <= last:
            billed, earned = periods.get(month, (0, 0))
            deferred += billed - earned
            months.append(
                WaterfallMonth(
                    month=f"{month:%Y-%m}",
                    currency=currency,
                    billed=billed,
                    recognized=earned,
                    deferred=deferred,
                )
            )
            month = next_month(month)
    return Waterfall(
        legal_entity_id=legal_entity_id, from_month=from_month, to_month=to_month, months=months
    )


def waterfall_csv(report: Waterfall) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["month", "currency", "billed", "recognized", "deferred"])
    for row in report.months:
        writer.writerow([row.month, row.currency, row.billed, row.recognized, row.deferred])
    return out.getvalue()


async def _synced(context: ProcessContext, session: AsyncSession, legal_entity_id: str) -> None:
    await get_legal_entity(session, legal_entity_id)
    await schedules.sync(
        session,
        settings=context.settings.revenue,
        today=context.today(),
        legal_entity_id=legal_entity_id,
    )
    await session.commit()


def _posted_by(period_end: date) -> ColumnElement[bool]:
    """An entry of a schedule whose line was billed by `period_end`, or of an adjustment
    effective by then (the entries need `RevenueAdjustmentRow` outer-joined)."""
    return or_(
        and_(RevenueEntryRow.adjustment_id.is_(None), RevenueScheduleRow.billed_on <= period_end),
        RevenueAdjustmentRow.effective_on <= period_end,
    )


def _balances(
    legal_entity_id: str, period_start: date, period_end: date
) -> Select[str, str, str, int, int, int]:
    """Per schedule, counting its line if billed by the month's end and each adjustment
    effective by then: what they billed, what their plans earn up to the month, and what
    the plans still earn after it (the deferred revenue)."""
    counted = _posted_by(period_end)
    earning = RevenueEntryRow.kind == EntryKind.RECOGNITION
    earned = case(
        (and_(earning, RevenueEntryRow.period <= period_start), RevenueEntryRow.amount), else_=0
    )
    later = case(
        (and_(earning, RevenueEntryRow.period > period_start), RevenueEntryRow.amount), else_=0
    )
    return (
        select(
            RevenueScheduleRow.id,
            RevenueScheduleRow.invoice_id,
            RevenueScheduleRow.currency,
            func.coalesce(func.sum(_DEFERRAL), 0).label("billed"),
            func.coalesce(func.sum(earned), 0).label("recognized"),
            func.coalesce(func.sum(later), 0).label("deferred"),
        )
        .join(RevenueEntryRow, RevenueEntryRow.schedule_id == RevenueScheduleRow.id)
        .outerjoin(RevenueAdjustmentRow, RevenueAdjustmentRow.id == RevenueEntryRow.adjustment_id)
        .where(RevenueScheduleRow.legal_entity_id == legal_entity_id, counted)
        .group_by(RevenueScheduleRow.id, RevenueScheduleRow.invoice_id, RevenueScheduleRow.currency)
    )


async def schedule_balances(
    context: ProcessContext,
    *,
    legal_entity_id: str,
    period: str,
    cursor: str | None,
    limit: int,
) -> ScheduleBalances:
    """The drill-down: each schedule's billed, recognized and deferred at the month's end."""
    period_start, period_end = period_bounds(period)
    async with context.sessionmaker() as session:
        await _synced(context, session, legal_entity_id)
        query = _balances(legal_entity_id, period_start, period_end)
        if (after := decode_cursor(cursor)) is not None:
            query = query.where(RevenueScheduleRow.id > after)
        rows = (await session.execute(query.order_by(RevenueScheduleRow.id).limit(limit + 1))).all()
    return ScheduleBalances(
        items=[
            ScheduleBalance(
                schedule_id=schedule_id,
                invoice_id=invoice_id,
                currency=currency,
                billed=int(billed),
                recognized=int(earned),
                deferred=int(later),
                balanced=int(billed) == int(earned) + int(later),
            )
            for schedule_id, invoice_id, currency, billed, earned, later in rows[:limit]
        ],
        next_cursor=next_cursor([row[0] for row in rows], limit),
    )


async def _journaled(
    session: AsyncSession, legal_entity_id: str, period_end: date
) -> dict[str, int]:
    """Per currency, what the documents and journals dated by `period_end` left in deferred
    revenue: what invoices and corrections posted there themselves (`booked`), and each
    recognition entry posted, less each reversing entry (a reversed run's entry stays in
    the ledger)."""
    booked = (
        await session.execute(
            select(RevenueEntryRow.currency, func.sum(RevenueEntryRow.amount))
            .join(RevenueScheduleRow, RevenueScheduleRow.id == RevenueEntryRow.schedule_id)
            .outerjoin(
                RevenueAdjustmentRow, RevenueAdjustmentRow.id == RevenueEntryRow.adjustment_id
            )
            .where(
                RevenueEntryRow.legal_entity_id == legal_entity_id,
                RevenueEntryRow.kind == EntryKind.BOOKED,
                _posted_by(period_end),
            )
            .group_by(RevenueEntryRow.currency)
        )
    ).all()
    runs = (
        await session.scalars(
            select(RecognitionRunRow).where(
                RecognitionRunRow.legal_entity_id == legal_entity_id,
                RecognitionRunRow.status.in_(
                    (RecognitionRunStatus.POSTED, RecognitionRunStatus.REVERSED)
                ),
                RecognitionRunRow.posting_date <= period_end,
            )
        )
    ).all()
    journaled: dict[str, int] = defaultdict(int)
    for currency, amount in booked:
        journaled[currency] += int(amount or 0)
    for run in runs:
        moved = run.deferred_total - run.recognized_total
        journaled[run.currency] += moved
        undone_on = run.reversal_posting_date
        if run.status == RecognitionRunStatus.REVERSED and undone_on and undone_on <= period_end:
            journaled[run.currency] -= moved
    return journaled


async def _deferred_accounts(
    session: AsyncSession, legal_entity_id: str, currency: str
) -> dict[str, date]:
    """The deferred revenue accounts the legal entity's schedules defer on and its
    amendments' ERP adjustments were booked to, each with the first day it was used."""
    by_schedules = await session.execute(
        select(RevenueScheduleRow.deferred_account, func.min(RevenueScheduleRow.billed_on))
        .where(
            RevenueScheduleRow.legal_entity_id == legal_entity_id,
            RevenueScheduleRow.currency == currency,
        )
        .group_by(RevenueScheduleRow.deferred_account)
    )
    by_amendments = await session.execute(
        select(AmendmentProrationRow.deferred_account, func.min(AmendmentProrationRow.posting_date))
        .join(SubscriptionRow, SubscriptionRow.id == AmendmentProrationRow.subscription_id)
        .join(CustomerRow, CustomerRow.id == SubscriptionRow.customer_id)
        .where(
            CustomerRow.legal_entity_id == legal_entity_id,
            AmendmentProrationRow.currency == currency,
            AmendmentProrationRow.deferred_account.is_not(None),
        )
        .group_by(AmendmentProrationRow.deferred_account)
    )
    accounts: dict[str, date] = {}
    for account, since in [*by_schedules.all(), *by_amendments.all()]:
        if account is not None:
            accounts[account] = min(since, accounts.get(account, since))
    return accounts


async def proof(context: ProcessContext, *, legal_entity_id: str, period: str) -> RevenueProof:
    """Billed = recognized + deferred per currency at the month's end, summed schedule by
    schedule, and the deferred revenue the posted journals left against the ERP's balance
    of the deferred revenue accounts."""
    period_start, period_end = period_bounds(period)
    async with context.sessionmaker() as session:
        await _synced(context, session, legal_entity_id)
        legal_entity = await get_legal_entity(session, legal_entity_id)
        per_schedule = _balances(legal_entity_id, period_start, period_end).subquery()
        unbalanced = case(
            (per_schedule.c.billed != per_schedule.c.recognized + per_schedule.c.deferred, 1),
            else_=0,
        )
        rows = (
            await session.execute(
                select(
                    per_schedule.c.currency,
                    func.sum(per_schedule.c.billed),
                    func.sum(per_schedule.c.recognized),
                    func.sum(per_schedule.c.deferred),
                    func.sum(unbalanced),
                ).group_by(per_schedule.c.currency)
            )
        ).all()
        journaled = await _journaled(session, legal_entity_id, period_end)
        accounts = await _deferred_accounts(
            session, legal_entity_id, legal_entity.functional_currency
        )
    erp_deferred = 0
    for account, since in accounts.items():
        async for entry in context.erp.stream_ledger_entries(
            legal_entity.erp_company_id,
            since.replace(day=1),
            period_end,
            account_number=account,
            currency=legal_entity.functional_currency,
        ):
            erp_deferred += entry.credit - entry.debit
    currencies = []
    for currency, billed, earned, deferred, unbalanced in sorted(rows):
        own = currency == legal_entity.functional_currency
        posted = int(journaled.get(currency) or 0)
        currencies.append(
            ProofCurrency(
                currency=currency,
                billed=int(billed),
                recognized=int(earned),
                deferred=int(deferred),
                unbalanced_schedules=int(unbalanced),
                journaled_deferred=posted,
                erp_deferred=erp_deferred if own else None,
                matched=erp_deferred == posted if own else None,
            )
        )
    return RevenueProof(
        legal_entity_id=legal_entity_id,
        period=period,
        currencies=currencies,
        schedules_url=f"/ops/v1/revenue/schedules?legal_entity={legal_entity_id}&period={period}",
    )
