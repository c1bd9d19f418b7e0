"""SQL for payments."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import NotFound
from core.models.dispute import DisputeRow, DisputeStatus
from core.models.payment import PaymentRow, PaymentStatus
from core.pagination import Page
from process_apis.listing import ListQuery, list_rows
from process_apis.payments.schemas import PaymentSummary


async def list_payments(
    session: AsyncSession,
    *,
    listing: ListQuery,
    status: PaymentStatus | None = None,
    customer_id: str | None = None,
    invoice_id: str | None = None,
) -> Page[PaymentSummary]:
    """A page of payments, newest first, dated by the day they were received."""
    rows, cursor = await list_rows(
        session,
        select(PaymentRow),
        PaymentRow.id,
        listing,
        date_column=PaymentRow.paid_on,
        updated_column=PaymentRow.updated_at,
        legal_entity_column=PaymentRow.legal_entity_id,
        equal={
            PaymentRow.status: status,
            PaymentRow.customer_id: customer_id,
            PaymentRow.invoice_id: invoice_id,
        },
    )
    return Page[PaymentSummary](
        items=[PaymentSummary.model_validate(row) for row in rows], next_cursor=cursor
    )


async def get_payment(
    session: AsyncSession, payment_id: str, *, for_update: bool = False
) -> PaymentRow:
    """A payment, or 404."""
    payment = await session.get(PaymentRow, payment_id, with_for_update=for_update)
    if payment is None:
        raise NotFound(f"no payment {payment_id}")
    return payment


async def open_dispute_of(session: AsyncSession, payment_id: str) -> str | None:
    """The open dispute of the payment's charge, whose hold its commission lines take."""
    return await session.scalar(
        select(DisputeRow.id).where(
            DisputeRow.payment_id == payment_id, DisputeRow.status == DisputeStatus.OPEN
        )
    )
