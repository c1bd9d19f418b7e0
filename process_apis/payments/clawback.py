"""Commission claw-back: a payment's commission lines answered line by line.

Every line the payment earned gets a line of the opposite sign that names it
(`reverses_line_id`), with the same lineage (partner, invoice line, rate card version,
rate) and the same date, so the settlement of its month takes it, or, when that month
is settled already, the next run as a prior-period adjustment. Nothing is deleted and no
original amount is edited: the partner's statement shows the claw-back.

A reversed payment, or a lost dispute, takes back what is left of each line. A refund
takes back its share: the cumulative share of the payment refunded so far, rounded half
up once per line, less what earlier claw-backs took, so partial refunds that add up to
the payment take back exactly the line. A claw-back names its cause (`cause_id`: the
refund or dispute; none for a reversal), and a cause claws a line back once.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.ids import new_id
from core.models.commission_line import CommissionLineRow
from process_apis.payments.commissions import half_up

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
    "held_by",
)


@dataclass(frozen=True)
class Share:
    """The part of a payment paid back so far, this cause included: `paid_back / paid`."""

    paid_back: int
    paid: int

    def of(self, amount: int) -> int:
        return half_up(amount * self.paid_back, self.paid)


async def claw_back(
    session: AsyncSession,
    payment_id: str,
    *,
    cause_id: str | None = None,
    share: Share | None = None,
) -> list[CommissionLineRow]:
    """Add the claw-back of each of the payment's earned lines that `cause_id` has not
    clawed back yet: what is left of it, or, with `share`, its share."""
    lines = (
        await session.scalars(
            select(CommissionLineRow)
            .where(CommissionLineRow.payment_id == payment_id)
            .order_by(CommissionLineRow.id)
        )
    ).all()
    taken: dict[str, tuple[int, int]] = defaultdict(lambda: (0, 0))
    answered = set()
    for line in lines:
        if line.reverses_line_id is not None:
            base, commission = taken[line.reverses_line_id]
            taken[line.reverses_line_id] = (
                base - line.base_amount,
                commission - line.commission_amount,
            )
            answered.add((line.reverses_line_id, line.cause_id))
    added = []
    for line in lines:
        if line.reverses_line_id is not None or (line.id, cause_id) in answered:
            continue
        taken_base, taken_commission = taken[line.id]
        base = (share.of(line.base_amount) if share else line.base_amount) - taken_base
        commission = (
            share.of(line.commission_amount) if share else line.commission_amount
        ) - taken_commission
        if base <= 0 and commission <= 0:
            continue
        added.append(
            CommissionLineRow(
                id=new_id("commission_line"),
                **{name: getattr(line, name) for name in _LINEAGE},
                base_amount=-max(base, 0),
                commission_amount=-max(commission, 0),
                reverses_line_id=line.id,
                cause_id=cause_id,
            )
        )
    session.add_all(added)
    return added
