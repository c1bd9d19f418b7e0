"""Commission claw-back: a reversed payment's commission lines answered line by line.

Every line the payment earned gets one line of the opposite amounts that names it
(`reverses_line_id`), with the same lineage (partner, invoice line, rate card version,
rate) and the same date, so the settlement of its month takes it, or, when that month
is settled already, the next run as a prior-period adjustment. Nothing is deleted and no
original amount is edited: the partner's statement shows the claw-back.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.ids import new_id
from core.models.commission_line import CommissionLineRow

# What a claw-back copies from the line it reverses: everything but its own identity,
# its amounts and its settlement.
_LINEAGE = (
    "payment_id",
    "invoice_id",
    "invoice_line_id",
    "customer_id",
    "partner_id",
    "legal_entity_id",
    "currency",
    "paid_on",
    "product_id",
    "product_tier",
    "eligible",
    "eligibility_reason",
    "deal_registration_id",
    "plan_code",
    "rate_card_version",
    "rate_effective_from",
    "rate_bps",
)


async def claw_back(session: AsyncSession, payment_id: str) -> list[CommissionLineRow]:
    """Add the claw-back of each of the payment's earned lines that has none yet."""
    lines = (
        await session.scalars(
            select(CommissionLineRow)
            .where(CommissionLineRow.payment_id == payment_id)
            .order_by(CommissionLineRow.id)
        )
    ).all()
    reversed_ids = {line.reverses_line_id for line in lines if line.reverses_line_id}
    added = [
        CommissionLineRow(
            id=new_id("commission_line"),
            **{name: getattr(line, name) for name in _LINEAGE},
            base_amount=-line.base_amount,
            commission_amount=-line.commission_amount,
            reverses_line_id=line.id,
        )
        for line in lines
        if line.reverses_line_id is None and line.id not in reversed_ids
    ]
    session.add_all(added)
    return added
