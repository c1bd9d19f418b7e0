"""The sinks the relay publishes to, as the settings configure them."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.settings import EventSettings
from events.sink import ClosableSink, EventSink
from events.webhooks.fanout import WebhookFanout


def configured_sinks(
    settings: EventSettings, sessionmaker: async_sessionmaker[AsyncSession]
) -> list[EventSink]:
    """The webhook fan-out (endpoints are data: with none, it keeps nothing), and NATS
    JetStream when the settings name a server."""
    sinks: list[EventSink] = [WebhookFanout(sessionmaker)]
    if settings.nats_url:
        from events.nats import NatsSink  # the NATS client (and aiohttp) only when configured

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
