"""The canonical events usage ingestion and reporting record."""

from __future__ import annotations

from core.models.usage_report import UsageReportPassRow, UsageReportRow
from core.quantity import from_micros
from events.envelope import CloudEvent
from events.schemas.usage import UsageCapExceeded, UsageReported
from process_apis.usage.caps import CapVerdict
from process_apis.usage.contract import Resolved
from process_apis.usage.schemas import UsageEventIn


def cap_exceeded(
    client_id: str,
    event: UsageEventIn,
    resolved: Resolved,
    verdict: CapVerdict,
    *,
    correlation_id: str | None,
) -> CloudEvent:
    """One per usage event accepted over its cap: its id follows from the client's event id."""
    subscription = resolved.subscription
    return UsageCapExceeded(
        client_id=client_id,
        usage_event_id=event.id,
        customer_id=subscription.customer_id,
        subscription_id=subscription.id,
        price_id=resolved.price.id,
        meter=event.meter,
        aggregation=str(resolved.price.aggregation),
        period_start=resolved.period.start,
        period_end=resolved.period.end,
        cap=verdict.cap,
        usage=verdict.usage,
    ).event(subject=subscription.id, fact=(client_id, event.id), correlation_id=correlation_id)


def reported(
    report: UsageReportRow,
    step: UsageReportPassRow,
    *,
    customer_id: str,
    meter: str,
    billing_item_id: str,
) -> CloudEvent:
    """One per report pass billing accepted: its id follows from the pass."""
    return UsageReported(
        customer_id=customer_id,
        subscription_id=report.subscription_id,
        price_id=report.price_id,
        meter=meter,
        period_start=report.period_start,
        period_end=report.period_end,
        report_pass_id=step.id,
        quantity=step.quantity,
        total=from_micros(step.total_micros),
        carried=from_micros(step.carried_micros),
        billing_item_id=billing_item_id,
    ).event(subject=report.subscription_id, fact=("usage-pass", str(step.id)))
