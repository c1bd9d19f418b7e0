"""The canonical events usage ingestion records."""

from __future__ import annotations

from events.envelope import CloudEvent
from events.schemas.usage import UsageCapExceeded
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
