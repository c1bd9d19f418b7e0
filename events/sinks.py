"""The sinks the relay publishes to, as the settings configure them."""

from __future__ import annotations

from core.settings import EventSettings
from events.nats import NatsSink
from events.sink import ClosableSink, EventSink


def configured_sinks(settings: EventSettings) -> list[EventSink]:
    """Every sink the settings turn on; none in the embedded default."""
    sinks: list[EventSink] = []
    if settings.nats_url:
        sinks.append(
            NatsSink(
                settings.nats_url,
                prefix=settings.nats_stream_prefix,
                duplicate_window=settings.nats_duplicate_window,
            )
        )
    return sinks


async def close_sinks(sinks: list[EventSink]) -> None:
    """Close the sinks that hold a connection."""
    for sink in sinks:
        if isinstance(sink, ClosableSink):
            await sink.aclose()
