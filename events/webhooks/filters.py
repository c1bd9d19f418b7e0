"""An endpoint's event-type filter, checked against the event catalog.

A filter lists exact CloudEvents types (no wildcards); a type the catalog does not list
would never match, so it is refused rather than kept as a filter that silently receives
nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from events.catalog import CATALOG
from events.webhooks.errors import WebhookEventTypeUnknown


def event_type_filter(event_types: Iterable[str]) -> list[str]:
    """The filter as stored: each type once, sorted; an unknown type is a 422."""
    wanted = sorted(set(event_types))
    unknown = [event_type for event_type in wanted if event_type not in CATALOG]
    if unknown:
        raise WebhookEventTypeUnknown(
            f"no event type {', '.join(unknown)}; the event types are listed in the "
            "AsyncAPI document (openapi/asyncapi.json)",
            unknown_event_types=unknown,
        )
    return wanted
