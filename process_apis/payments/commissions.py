"""Commission arithmetic: a payment allocated to invoice lines, rated in basis points.

Integers throughout, rounded half up once per amount: the base is the line's share of
the payment (`line amount x paid / invoice total`), the commission that share times
the rate, computed from the unrounded share so the two roundings never compound.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from system_apis.crm.schemas import CrmRateCardVersion, PartnerEligibility

BASIS_POINTS = 10_000


def half_up(numerator: int, denominator: int) -> int:
    """`numerator / denominator` rounded half up, for non-negative integers."""
    return (2 * numerator + denominator) // (2 * denominator)


@dataclass(frozen=True)
class LineToRate:
    invoice_line_id: str
    product_id: str
    product_tier: str
    amount: int


@dataclass(frozen=True)
class RatedLine:
    invoice_line_id: str
    product_id: str
    product_tier: str
    eligible: bool
    eligibility_reason: str
    deal_registration_id: str | None
    rate_card_version: int | None
    rate_effective_from: date | None
    rate_bps: int
    base_amount: int
    commission_amount: int


def rate_lines(
    lines: list[LineToRate],
    *,
    paid: int,
    invoice_total: int,
    version: CrmRateCardVersion | None,
    eligibility: dict[str, PartnerEligibility],
) -> list[RatedLine]:
    """One rated line per invoice line; ineligible or unrated ones earn nothing, on record."""
    rated = []
    for line in lines:
        answer = eligibility[line.product_tier]
        rate = None
        if version is not None:
            rate = next(
                (r.rate_bps for r in version.rates if r.product_tier == line.product_tier), None
            )
        reason = answer.reason.value
        if answer.eligible and version is None:
            reason = "no_rate_card_version"
        elif answer.eligible and rate is None:
            reason = "no_rate_for_product_tier"
        earns = answer.eligible and rate is not None
        rate_bps = rate or 0
        rated.append(
            RatedLine(
                invoice_line_id=line.invoice_line_id,
                product_id=line.product_id,
                product_tier=line.product_tier,
                eligible=earns,
                eligibility_reason=reason,
                deal_registration_id=answer.deal_registration_id,
                rate_card_version=version.version if version else None,
                rate_effective_from=version.effective_from if version else None,
                rate_bps=rate_bps,
                base_amount=half_up(line.amount * paid, invoice_total),
                commission_amount=half_up(
                    line.amount * paid * rate_bps, invoice_total * BASIS_POINTS
                )
                if earns
                else 0,
            )
        )
    return rated
