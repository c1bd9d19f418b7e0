"""Drawing up a month's recognition runs, and reading them.

A run recognizes one month for one legal entity and currency. Drawing it up takes every
entry of the legal entity and currency up to the month that no run holds yet (late
billings and adjustments of earlier months included), in one `UPDATE`, and totals them
per account pair in one grouped query: the cost does not grow with the entries taken
beyond the database's own work. A month is drawn up once; after its run is reversed (or
voided) the next request draws up a new attempt.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import NotFound
from core.ids import new_id
from core.models.legal_entity import LegalEntityRow
from core.models.revenue import (
    EntryKind,
    RecognitionRunLineRow,
    RecognitionRunRow,
    RecognitionRunStatus,
    RevenueEntryRow,
)
from process_apis.revenue.errors import RevenueRunInProgress

# A period whose latest run has one of these is drawn up again on request.
REDRAWN = (RecognitionRunStatus.REVERSED, RecognitionRunStatus.VOID)


async def draw_up(
    session: AsyncSession, *, legal_entity: LegalEntityRow, period_start: date, period_end: date
) -> tuple[list[RecognitionRunRow], int]:
    """The month's runs of the legal entity, drawing up the missing ones, and how many were new.

    A legal entity with nothing to recognize gets an `empty` run in its own currency, so
    the month counts as recognized.
    """
    latest = {
        run.currency: run for run in await period_runs(session, legal_entity.id, period_start)
    }
    pending = set(
        (
            await session.scalars(
                select(RevenueEntryRow.currency)
                .where(
                    RevenueEntryRow.legal_entity_id == legal_entity.id,
                    RevenueEntryRow.run_id.is_(None),
                    RevenueEntryRow.period <= period_start,
                )
                .distinct()
            )
        ).all()
    )
    if not latest and not pending:
        pending = {legal_entity.functional_currency}
    drawn = 0
    for currency in sorted(pending | {c for c, run in latest.items() if run.status in REDRAWN}):
        previous = latest.get(currency)
        if previous is not None and previous.status not in REDRAWN:
            continue
        latest[currency] = await _draw_up_run(
            session,
            legal_entity_id=legal_entity.id,
            currency=currency,
            period_start=period_start,
            period_end=period_end,
            attempt=1 if previous is None else previous.attempt + 1,
        )
        drawn += 1
    return sorted(latest.values(), key=lambda run: run.currency), drawn


async def _draw_up_run(
    session: AsyncSession,
    *,
    legal_entity_id: str,
    currency: str,
    period_start: date,
    period_end: date,
    attempt: int,
) -> RecognitionRunRow:
    run = RecognitionRunRow(
        id=new_id("recognition_run"),
        legal_entity_id=legal_entity_id,
        currency=currency,
        period_start=period_start,
        period_end=period_end,
        attempt=attempt,
        status=RecognitionRunStatus.DRAFT,
        deferred_total=0,
        recognized_total=0,
        entry_count=0,
    )
    session.add(run)
    try:
        await session.flush()
    except IntegrityError as error:
        await session.rollback()
        raise RevenueRunInProgress(
            "another run drew up this period's recognition first; run it again"
        ) from error
    await session.execute(
        update(RevenueEntryRow)
        .where(
            RevenueEntryRow.legal_entity_id == legal_entity_id,
            RevenueEntryRow.currency == currency,
            RevenueEntryRow.run_id.is_(None),
            RevenueEntryRow.period <= period_start,
        )
        .values(run_id=run.id)
        # The session holds no entries: nothing to synchronize, and no ids to fetch back.
        .execution_options(synchronize_session=False)
    )
    deferral = case((RevenueEntryRow.kind == EntryKind.DEFERRAL, RevenueEntryRow.amount), else_=0)
    earned = case((RevenueEntryRow.kind == EntryKind.RECOGNITION, RevenueEntryRow.amount), else_=0)
    totals = (
        await session.execute(
            select(
                RevenueEntryRow.deferred_account,
                RevenueEntryRow.revenue_account,
                func.sum(deferral),
                func.sum(earned),
                func.count(),
            )
            .where(RevenueEntryRow.run_id == run.id)
            .group_by(RevenueEntryRow.deferred_account, RevenueEntryRow.revenue_account)
        )
    ).all()
    for deferred_account, revenue_account, deferred, recognized, count in totals:
        session.add(
            RecognitionRunLineRow(
                run_id=run.id,
                deferred_account=deferred_account,
                revenue_account=revenue_account,
                deferred=int(deferred or 0),
                recognized=int(recognized or 0),
            )
        )
        run.deferred_total += int(deferred or 0)
        run.recognized_total += int(recognized or 0)
        run.entry_count += count
    if not any(deferred or recognized for _, _, deferred, recognized, _ in totals):
        run.status = RecognitionRunStatus.EMPTY  # nothing moves: no journal
    await session.flush()
    return run


async def period_runs(
    session: AsyncSession, legal_entity_id: str, period_start: date
) -> Sequence[RecognitionRunRow]:
    """The latest attempt of the month's run in each currency."""
    runs = (
        await session.scalars(
            select(RecognitionRunRow)
            .where(
                RecognitionRunRow.legal_entity_id == legal_entity_id,
                RecognitionRunRow.period_start == period_start,
            )
            .order_by(RecognitionRunRow.attempt)
        )
    ).all()
    return list({run.currency: run for run in runs}.values())


async def get_run(
    session: AsyncSession, run_id: str, *, for_update: bool = False
) -> RecognitionRunRow:
    query = select(RecognitionRunRow).where(RecognitionRunRow.id == run_id)
    if for_update:
        query = query.with_for_update()
    run = await session.scalar(query)
    if run is None:
        raise NotFound(f"no recognition run {run_id}")
    return run


async def run_lines(session: AsyncSession, run_id: str) -> Sequence[RecognitionRunLineRow]:
    return (
        await session.scalars(
            select(RecognitionRunLineRow)
            .where(RecognitionRunLineRow.run_id == run_id)
            .order_by(RecognitionRunLineRow.deferred_account, RecognitionRunLineRow.revenue_account)
        )
    ).all()


async def free_entries(session: AsyncSession, run_id: str) -> None:
    """A reversed or voided run's entries, free for the period's next run."""
    await session.execute(
        update(RevenueEntryRow)
        .where(RevenueEntryRow.run_id == run_id)
        .values(run_id=None)
        .execution_options(synchronize_session=False)
    )
