"""One key's documents on the three sides: what they disagree on, and why, probably.

Pure: `differences` decides from the grouped documents alone; `Totals` adds each
side's documents to the control totals per document type and currency.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from process_apis.reconciliation.schemas import (
    CAUSES,
    Cause,
    CurrencyTotals,
    Difference,
    DifferenceKind,
    DocumentType,
)
from process_apis.reconciliation.sources import PAID, UNLINKED
from process_apis.reconciliation.staging import Grouped, Side3


def document_type(group: Grouped) -> str:
    """The gateway's name for the document where it has one (an ERP invoice may be our
    adjustment), else the side's that holds it."""
    return (
        group.gateway.document_type or group.erp.document_type or group.billing.document_type or ""
    )


# A refund's or a lost dispute's document missing or of another amount in the ERP says
# more than the generic cause: what billing did that the ERP does not show.
SPECIFIC_CAUSES: dict[tuple[str, Cause], Cause] = {
    (DocumentType.REFUND, Cause.NOT_POSTED): Cause.REFUND_NOT_BOOKED,
    (DocumentType.REFUND, Cause.AMOUNT): Cause.REFUND_AMOUNT,
    (DocumentType.DISPUTE, Cause.NOT_POSTED): Cause.DISPUTE_NOT_JOURNALED,
    (DocumentType.DISPUTE, Cause.AMOUNT): Cause.DISPUTE_AMOUNT,
}


def differences(group: Grouped) -> list[Difference]:
    gateway, billing, erp = group.gateway, group.billing, group.erp
    found: list[Difference] = []

    def add(kind: DifferenceKind, cause: Cause) -> None:
        cause = SPECIFIC_CAUSES.get((document_type(group), cause), cause)
        found.append(_difference(group, kind, cause))

    if erp.count > 1:
        add(DifferenceKind.DUPLICATE_IN_ERP, Cause.POSTED_TWICE)
    if gateway.count and not erp.count:
        add(DifferenceKind.MISSING_IN_ERP, Cause.NOT_POSTED)
    elif erp.count and not gateway.count:
        add(DifferenceKind.MISSING_IN_GATEWAY, Cause.NOT_REGISTERED)
    elif erp.count and (cause := _disagreement(gateway, erp, gateway.amount)) is not None:
        add(DifferenceKind.AMOUNT_MISMATCH, cause)
    if billing.count and not gateway.count and not erp.count:
        add(DifferenceKind.MISSING_IN_GATEWAY, Cause.NEVER_REGISTERED)
    if group.link is not None and gateway.count:
        if not billing.count:
            add(DifferenceKind.MISSING_IN_BILLING, Cause.NOT_IN_BILLING)
        elif (cause := _disagreement(gateway, billing, group.billed)) is not None:
            add(DifferenceKind.AMOUNT_MISMATCH, cause)
    return found


def _disagreement(ours: Side3, theirs: Side3, amount: int | None) -> Cause | None:
    """How `theirs` differs from `ours` (whose amount, for this side, is `amount`)."""
    if ours.currency != theirs.currency:
        return Cause.CURRENCY
    if amount == theirs.amount:
        return None
    if ours.tax is None or theirs.tax is None or amount is None or theirs.amount is None:
        return Cause.AMOUNT
    if ours.tax == theirs.tax:
        return Cause.NET
    if amount - ours.tax == theirs.amount - theirs.tax:
        return Cause.TAX
    return Cause.NET_AND_TAX


def _difference(group: Grouped, kind: DifferenceKind, cause: Cause) -> Difference:
    gateway, billing, erp = group.gateway, group.billing, group.erp
    billing_id = billing.ref or (group.link.removeprefix(PAID) if group.link else None)
    key = group.key
    if key.startswith(UNLINKED):
        key = key.removeprefix(UNLINKED)
    return Difference(
        kind=kind,
        document_type=document_type(group),
        cause=cause,
        explanation=CAUSES[cause],
        key=key,
        gateway_id=gateway.ref,
        billing_id=billing_id,
        erp_number=erp.number or gateway.number,
        currency=gateway.currency or erp.currency or billing.currency or "",
        gateway_amount=gateway.amount if gateway.count else None,
        billing_amount=billing.amount if billing.count else None,
        erp_amount=erp.amount if erp.count else None,
    )


@dataclass
class Totals:
    """Counts and control totals per document type and currency, on each side."""

    lines: dict[tuple[str, str], list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0] * 6)
    )

    def add(self, group: Grouped) -> None:
        kind = document_type(group)
        for offset, side in enumerate((group.gateway, group.erp, group.billing)):
            if side.count and side.currency is not None:
                sums = self.lines[kind, side.currency]
                sums[2 * offset] += side.count
                sums[2 * offset + 1] += side.amount or 0

    def report(self) -> list[CurrencyTotals]:
        return [
            CurrencyTotals(
                document_type=kind,
                currency=currency,
                gateway_count=sums[0],
                gateway_total=sums[1],
                erp_count=sums[2],
                erp_total=sums[3],
                billing_count=sums[4],
                billing_total=sums[5],
            )
            for (kind, currency), sums in sorted(self.lines.items())
        ]
