"""Usage in the reconciliation: per subscription item, each billing period that ended in
the month and that billing has invoiced, what billing's invoice charged against what the
gateway reported, as money (quantity × the metered price's unit amount).

A period billing invoiced without its charge being read back, or charged for another
quantity, is a difference: what was used was not what was billed.
"""

from __future__ import annotations

from datetime import UTC, datetime, time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.models.customer import CustomerRow
from core.models.price import PriceRow
from core.models.subscription import SubscriptionRow
from core.models.usage_report import UsageReportRow, UsageReportStatus
from core.quantity import SCALE
from process_apis.reconciliation.schemas import CAUSES, Cause, Difference, DifferenceKind
from process_apis.reconciliation.sources import Scope

DOCUMENT_TYPE = "usage"


async def usage_differences(session: AsyncSession, scope: Scope) -> list[Difference]:
    start = datetime.combine(scope.start, time(), tzinfo=UTC)
    # The last instant of the scope's last day: the day after it may be past the calendar.
    last = datetime.combine(scope.end, time.max, tzinfo=UTC)
    rows = await session.execute(
        select(UsageReportRow, PriceRow.unit_amount, PriceRow.currency)
        .join(PriceRow, PriceRow.id == UsageReportRow.price_id)
        .join(SubscriptionRow, SubscriptionRow.id == UsageReportRow.subscription_id)
        .join(CustomerRow, CustomerRow.id == SubscriptionRow.customer_id)
        .where(
            CustomerRow.legal_entity_id == scope.legal_entity_id,
            UsageReportRow.status == UsageReportStatus.CLOSED,
            UsageReportRow.period_end >= start,
            UsageReportRow.period_end <= last,
        )
        .order_by(UsageReportRow.id)
    )
    found = []
    for report, unit_amount, currency in rows:
        reported = report.reported_micros // SCALE * unit_amount
        invoiced = report.invoiced_quantity
        if invoiced is not None and invoiced * unit_amount == reported:
            continue
        kind = (
            DifferenceKind.MISSING_IN_BILLING
            if invoiced is None
            else DifferenceKind.AMOUNT_MISMATCH
        )
        found.append(
            Difference(
                kind=kind,
                document_type=DOCUMENT_TYPE,
                cause=Cause.AMOUNT,
                explanation=f"usage of {report.period_start:%Y-%m-%d}: "
                + ("no invoice read back" if invoiced is None else CAUSES[Cause.AMOUNT]),
                key=f"{report.subscription_id}:{report.price_id}:{report.period_start:%Y-%m-%d}",
                gateway_id=report.subscription_id,
                billing_id=report.invoice_ref,
                erp_number=None,
                currency=currency,
                gateway_amount=reported,
                billing_amount=None if invoiced is None else invoiced * unit_amount,
                erp_amount=None,
            )
        )
    return found
