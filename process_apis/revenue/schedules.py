"""Revenue schedules kept in step with the documents: a schedule for every posted invoice
line with a service period, and an adjustment for every later document that changes what
it earns (`sources`). Both are found set-based (the documents of every source in one
query), so a sync costs two queries when nothing is new, and is run before anything reads
or recognizes schedules.

What a document booked to deferred revenue itself (an invoice line posted to its deferred
account, a correction of such a line, an amendment's ERP adjustment posted to its deferred
account) is entered as `booked`, on the account the document booked: the recognition
journal moves only `deferral` entries, what was booked to revenue, into deferred revenue.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import String, exists, func, insert, literal, select, union_all
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.ids import new_id
from core.models.amendment_proration import AmendmentProrationRow
from core.models.invoice import InvoiceLineRow, InvoiceRow
from core.models.legal_entity import LegalEntityRow
from core.models.revenue import (
    EntryKind,
    RecognitionMethod,
    RecognitionRunRow,
    RecognitionRunStatus,
    RevenueAdjustmentRow,
    RevenueEntryRow,
    RevenueRuleRow,
    RevenueScheduleRow,
)
from core.settings import RevenueSettings
from process_apis.revenue.errors import RevenueSyncInProgress
from process_apis.revenue.plan import largest_remainder, month_start, next_month, plan, replan
from process_apis.revenue.sources import AMENDMENT, BILLED, SOURCES

# Runs whose entries count as recognized (a reversed run's are free again).
TAKING = (RecognitionRunStatus.DRAFT, RecognitionRunStatus.POSTED, RecognitionRunStatus.EMPTY)
# Sources whose documents credit an invoice line on the account the line was booked to
# (a correction's lines): what they credit of a line posted to deferred revenue is booked.
BOOKED_BY_LINE = ("credit_memo",)


async def sync(
    session: AsyncSession,
    *,
    settings: RevenueSettings,
    today: date,
    legal_entity_id: str | None = None,
    invoice_id: str | None = None,
) -> None:
    """Draw up the missing schedules and adjustments (of one legal entity or invoice)."""
    try:
        await _draw_up_schedules(
            session, settings=settings, legal_entity_id=legal_entity_id, invoice_id=invoice_id
        )
        await _adjust(session, today=today, legal_entity_id=legal_entity_id, invoice_id=invoice_id)
        await session.flush()
    except IntegrityError as error:
        await session.rollback()
        raise RevenueSyncInProgress(
            "another request drew up these schedules at the same time; try again"
        ) from error


async def _draw_up_schedules(
    session: AsyncSession,
    *,
    settings: RevenueSettings,
    legal_entity_id: str | None,
    invoice_id: str | None,
) -> None:
    query = (
        select(InvoiceLineRow, InvoiceRow, LegalEntityRow.code)
        .join(InvoiceRow, InvoiceRow.id == InvoiceLineRow.invoice_id)
        .join(LegalEntityRow, LegalEntityRow.id == InvoiceRow.legal_entity_id)
        .where(
            InvoiceRow.status.in_(BILLED),
            InvoiceLineRow.service_period_start.is_not(None),
            ~exists().where(RevenueScheduleRow.invoice_line_id == InvoiceLineRow.id),
        )
    )
    if legal_entity_id is not None:
        query = query.where(InvoiceRow.legal_entity_id == legal_entity_id)
    if invoice_id is not None:
        query = query.where(InvoiceRow.id == invoice_id)
    rows = (await session.execute(query)).all()
    if not rows:
        return
    rules = {
        product: RecognitionMethod(method)
        for product, method in (
            await session.execute(select(RevenueRuleRow.product_id, RevenueRuleRow.method))
        ).all()
    }
    schedules: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    for line, invoice, code in rows:
        schedule = new_schedule(line, invoice, code, settings=settings, rules=rules)
        schedules.append(schedule)
        entries.extend(schedule_entries(schedule, booked=line.deferred_account is not None))
    await session.execute(insert(RevenueScheduleRow), schedules)
    await session.execute(insert(RevenueEntryRow), entries)


def new_schedule(
    line: InvoiceLineRow,
    invoice: InvoiceRow,
    legal_entity_code: str,
    *,
    settings: RevenueSettings,
    rules: dict[str, RecognitionMethod],
) -> dict[str, Any]:
    assert line.service_period_start is not None
    assert line.service_period_end is not None
    accounts = settings.accounts_for(legal_entity_code, line.product_id)
    return {
        "id": new_id("revenue_schedule"),
        "invoice_id": invoice.id,
        "invoice_line_id": line.id,
        "legal_entity_id": invoice.legal_entity_id,
        "currency": invoice.currency,
        "product_id": line.product_id,
        "method": rules.get(line.product_id or "", RecognitionMethod.RATABLE_DAILY),
        "service_start": line.service_period_start,
        "service_end": line.service_period_end,
        "billed_on": invoice.posting_date or invoice.invoice_date,
        "amount": line.amount,
        "deferred_account": line.deferred_account or accounts.deferred,
        "revenue_account": accounts.revenue,
    }


def schedule_entries(schedule: dict[str, Any], *, booked: bool) -> list[dict[str, Any]]:
    """The billed amount deferred in its month (`booked`: by the invoice's posting), and
    what it earns in each month."""
    common = {
        key: schedule[key]
        for key in ("legal_entity_id", "currency", "deferred_account", "revenue_account")
    }
    billed = {
        **common,
        "schedule_id": schedule["id"],
        "kind": EntryKind.BOOKED if booked else EntryKind.DEFERRAL,
        "period": month_start(schedule["billed_on"]),
        "amount": schedule["amount"],
    }
    earned = plan(
        schedule["amount"], schedule["service_start"], schedule["service_end"], schedule["method"]
    )
    return [billed] + [
        {
            **common,
            "schedule_id": schedule["id"],
            "kind": EntryKind.RECOGNITION,
            "period": period,
            "amount": amount,
        }
        for period, amount in earned.items()
    ]


async def _adjust(
    session: AsyncSession,
    *,
    today: date,
    legal_entity_id: str | None,
    invoice_id: str | None,
) -> None:
    """Adjust each schedule a document of a source changes and has not adjusted yet: the
    new documents of every source in one query, the earliest effective first."""
    documents = union_all(
        *(
            source.query.add_columns(literal(source.source_type, String).label("source_type"))
            for source in SOURCES
        )
    ).subquery()
    scheduled = select(RevenueScheduleRow.invoice_id)
    if legal_entity_id is not None:
        scheduled = scheduled.where(RevenueScheduleRow.legal_entity_id == legal_entity_id)
    if invoice_id is not None:
        scheduled = scheduled.where(RevenueScheduleRow.invoice_id == invoice_id)
    adjusted = exists().where(
        RevenueAdjustmentRow.source_type == documents.c.source_type,
        RevenueAdjustmentRow.source_id == documents.c.source_id,
    )
    effective_on = func.coalesce(documents.c.effective_on, today)
    found = (
        await session.execute(
            select(documents)
            .where(documents.c.invoice_id.in_(scheduled), ~adjusted)
            .order_by(effective_on, documents.c.source_type, documents.c.source_id)
        )
    ).all()
    for source_id, doc_invoice_id, line_id, amount, effective, serves_from, source_type in found:
        shares = await _shares(session, doc_invoice_id, line_id, amount)
        booked_on = await _booked_account(session, source_type, source_id, line_id)
        for schedule, share in shares:
            if share:
                await adjust_schedule(
                    session,
                    schedule,
                    source_type=source_type,
                    source_id=source_id,
                    amount=share,
                    effective_on=effective or today,
                    serves_from=serves_from,
                    booked_on=booked_on,
                )


async def _booked_account(
    session: AsyncSession, source_type: str, source_id: str, line_id: str | None
) -> str | None:
    """The deferred revenue account the document booked its amount to itself, if it did:
    a correction's line the account its invoice line was posted to, an amendment's ERP
    adjustment the one its proration records (none: booked to revenue)."""
    if source_type == AMENDMENT:
        return await session.scalar(
            select(AmendmentProrationRow.deferred_account).where(
                AmendmentProrationRow.id == source_id
            )
        )
    if line_id is None or source_type not in BOOKED_BY_LINE:
        return None
    return await session.scalar(
        select(InvoiceLineRow.deferred_account).where(InvoiceLineRow.id == line_id)
    )


async def _shares(
    session: AsyncSession, invoice_id: str, line_id: str | None, amount: int
) -> list[tuple[RevenueScheduleRow, int]]:
    """The schedules an amount adjusts: its line's, or every line's share of the invoice
    (by line amount; a line without a schedule keeps its share out of revenue schedules)."""
    if line_id is not None:
        schedule = await session.scalar(
            select(RevenueScheduleRow).where(RevenueScheduleRow.invoice_line_id == line_id)
        )
        return [] if schedule is None else [(schedule, amount)]
    lines = (
        await session.execute(
            select(InvoiceLineRow.id, InvoiceLineRow.amount)
            .where(InvoiceLineRow.invoice_id == invoice_id)
            .order_by(InvoiceLineRow.sequence)
        )
    ).all()
    if not sum(line_amount for _, line_amount in lines):
        return []
    split = dict(
        zip(
            (line for line, _ in lines),
            largest_remainder(amount, [a for _, a in lines]),
            strict=True,
        )
    )
    schedules = (
        await session.scalars(
            select(RevenueScheduleRow).where(RevenueScheduleRow.invoice_id == invoice_id)
        )
    ).all()
    return [(schedule, split[schedule.invoice_line_id]) for schedule in schedules]


async def adjust_schedule(
    session: AsyncSession,
    schedule: RevenueScheduleRow,
    *,
    source_type: str,
    source_id: str,
    amount: int,
    effective_on: date,
    serves_from: date | None = None,
    booked_on: str | None = None,
) -> RevenueAdjustmentRow:
    """Change what `schedule` earns by `amount` from `effective_on` on, prospectively: the
    amount is deferred (negative: taken out of deferred revenue) in its month (`booked_on`:
    by the document itself, on that deferred account, which the adjustment's months are
    then recognized from; none: booked to revenue, for the journal to move onto the
    schedule's deferred account), and the months not
    recognized yet are re-planned; recognized months never change (a credit beyond what
    is left to earn takes revenue back in the first month re-planned).

    `serves_from`: the amount serves its own days, from then to the schedule's end (an
    amendment's proration): it is spread over those of them in months not recognized yet
    by the schedule's method, leaving what the schedule earned so far as it is."""
    replan_from = max(month_start(effective_on), await first_open_month(session, schedule))
    remaining = dict(
        (
            await session.execute(
                select(RevenueEntryRow.period, func.sum(RevenueEntryRow.amount))
                .where(
                    RevenueEntryRow.schedule_id == schedule.id,
                    RevenueEntryRow.kind == EntryKind.RECOGNITION,
                    RevenueEntryRow.run_id.is_(None),
                    RevenueEntryRow.period >= replan_from,
                )
                .group_by(RevenueEntryRow.period)
            )
        ).all()
    )
    adjustment = RevenueAdjustmentRow(
        id=new_id("revenue_adjustment"),
        schedule_id=schedule.id,
        source_type=source_type,
        source_id=source_id,
        amount=amount,
        effective_on=effective_on,
        replanned_from=replan_from,
    )
    session.add(adjustment)
    await session.flush()
    method = RecognitionMethod(schedule.method)
    if serves_from is not None and max(serves_from, replan_from) <= schedule.service_end:
        deltas = plan(amount, max(serves_from, replan_from), schedule.service_end, method)
    else:
        deltas = replan(
            remaining={period: int(total) for period, total in remaining.items()},
            adjustment=amount,
            start=schedule.service_start,
            end=schedule.service_end,
            method=method,
            replan_from=replan_from,
        )
    common = {
        "schedule_id": schedule.id,
        "adjustment_id": adjustment.id,
        "legal_entity_id": schedule.legal_entity_id,
        "currency": schedule.currency,
        "deferred_account": booked_on or schedule.deferred_account,
        "revenue_account": schedule.revenue_account,
    }
    rows = [
        {
            **common,
            "kind": EntryKind.DEFERRAL if booked_on is None else EntryKind.BOOKED,
            "period": month_start(effective_on),
            "amount": amount,
        }
    ]
    rows += [
        {**common, "kind": EntryKind.RECOGNITION, "period": period, "amount": delta}
        for period, delta in deltas.items()
    ]
    await session.execute(insert(RevenueEntryRow), rows)
    return adjustment


async def first_open_month(session: AsyncSession, schedule: RevenueScheduleRow) -> date:
    """The first month its legal entity and currency have not recognized yet (a run
    taking entries counts; a reversed one does not)."""
    last = await session.scalar(
        select(func.max(RecognitionRunRow.period_start)).where(
            RecognitionRunRow.legal_entity_id == schedule.legal_entity_id,
            RecognitionRunRow.currency == schedule.currency,
            RecognitionRunRow.status.in_(TAKING),
        )
    )
    return date.min if last is None else next_month(last)
