"""A customer's dunning case changed in the caller's transaction, its event with it.

`open_case` on a payment failure (one open case per customer: another failure joins
it), `suspend_case` once its grace has passed, `close_case` on a payment. Each records
its canonical event in the same transaction, with an id derived from the case, so a
redelivered billing event never records a second one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.ids import new_id
from core.models.base import utcnow
from core.models.customer import CustomerRow
from core.models.dunning import DunningCaseRow, DunningStatus
from core.models.legal_entity import LegalEntityRow
from events.outbox import record
from events.schemas.account import (
    AccountReactivated,
    AccountSuspended,
    DunningClosed,
    DunningOpened,
    dunning_event,
)

OPEN_STATUSES = (DunningStatus.DUNNING, DunningStatus.SUSPENDED)


async def open_case_of(
    session: AsyncSession, customer_id: str, *, lock: bool = False
) -> DunningCaseRow | None:
    """The customer's case that is not closed, if any."""
    query = select(DunningCaseRow).where(
        DunningCaseRow.customer_id == customer_id, DunningCaseRow.status.in_(OPEN_STATUSES)
    )
    return await session.scalar(query.with_for_update() if lock else query)


async def grace_days(session: AsyncSession, customer: CustomerRow, default: int) -> int:
    """The customer's legal entity's grace period, or the global default."""
    entity = await session.get_one(LegalEntityRow, customer.legal_entity_id)
    return default if entity.dunning_grace_days is None else entity.dunning_grace_days


async def open_case(
    session: AsyncSession,
    customer: CustomerRow,
    *,
    event_id: str,
    billing_invoice_ref: str | None,
    today: date,
    default_grace_days: int,
) -> DunningCaseRow | None:
    """Open dunning for the customer; none when a case is open already."""
    if await open_case_of(session, customer.id, lock=True) is not None:
        return None
    days = await grace_days(session, customer, default_grace_days)
    case = DunningCaseRow(
        id=new_id("dunning_case"),
        customer_id=customer.id,
        status=DunningStatus.DUNNING,
        opened_by_event=event_id,
        billing_invoice_ref=billing_invoice_ref,
        opened_at=utcnow(),
        grace_ends_on=today + timedelta(days=days),
    )
    session.add(case)
    await session.flush()
    await record(session, dunning_event(DunningOpened, case))
    return case


async def suspend_case(session: AsyncSession, case: DunningCaseRow) -> None:
    """The grace has passed unpaid: the account is suspended (the run carries it out)."""
    case.status = DunningStatus.SUSPENDED
    case.suspended_at = utcnow()
    await session.flush()
    await record(session, dunning_event(AccountSuspended, case))


async def close_case(session: AsyncSession, case: DunningCaseRow, *, event_id: str) -> bool:
    """A payment ends the case; True when the account was suspended (reactivate it)."""
    suspended = case.status == DunningStatus.SUSPENDED
    case.status = DunningStatus.CLOSED
    case.closed_at = utcnow()
    case.closed_reason = "reactivated" if suspended else "paid"
    case.closed_by_event = event_id
    await session.flush()
    await record(session, dunning_event(AccountReactivated if suspended else DunningClosed, case))
    return suspended


async def due_for_suspension(
    session: AsyncSession, today: date, *, limit: int
) -> Sequence[DunningCaseRow]:
    """Cases in dunning whose grace has ended by `today`, locked for this worker."""
    return (
        await session.scalars(
            select(DunningCaseRow)
            .where(
                DunningCaseRow.status == DunningStatus.DUNNING,
                DunningCaseRow.grace_ends_on <= today,
            )
            .order_by(DunningCaseRow.grace_ends_on, DunningCaseRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
