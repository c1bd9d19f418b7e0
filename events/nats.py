"""The NATS JetStream sink: every event on `<prefix>.<family>.<action>`, one stream per family.

Streams are created, or updated to the configured duplicate window, the first time the
sink connects (and again after it lost its connection). Each event is published with its
id as `Nats-Msg-Id`, so the stream's duplicate window absorbs a batch the relay offers
again. A batch is sent in order on one connection and counts as taken only once the
stream has acknowledged every message of it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import timedelta

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import PubAck, StreamConfig
from nats.js.errors import BadRequestError

from events.catalog import CATALOG, action, family
from events.envelope import CloudEvent

logger = logging.getLogger(__name__)

ACK_TIMEOUT_SECONDS = 10.0


class NatsSink:
    """Publishes canonical events to JetStream (an `EventSink`)."""

    name = "nats"

    def __init__(
        self, url: str, *, prefix: str = "ledgergate", duplicate_window: timedelta
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.duplicate_window = duplicate_window
        self._client: Client | None = None
        self._stream: JetStreamContext | None = None

    def subject(self, event_type: str) -> str:
        """`ledgergate.invoice.posted` for `com.ledgergate.invoice.posted.v1`."""
        return f"{self.prefix}.{family(event_type)}.{action(event_type)}"

    def stream_name(self, event_family: str) -> str:
        """`LEDGERGATE_INVOICE`: the stream of one family."""
        return f"{self.prefix}_{event_family}".upper().replace(".", "_")

    async def publish(self, events: Sequence[CloudEvent]) -> None:
        """Send `events` in order; return once JetStream acknowledged them all."""
        stream = await self._connected()
        pending: list[asyncio.Future[PubAck]] = []
        for event in events:
            pending.append(
                await stream.publish_async(
                    self.subject(event.type),
                    event.model_dump_json().encode(),
                    headers={"Nats-Msg-Id": event.id, "Content-Type": "application/json"},
                )
            )
        await asyncio.wait_for(asyncio.gather(*pending), timeout=ACK_TIMEOUT_SECONDS)

    async def ensure_streams(self, stream: JetStreamContext) -> None:
        """Create each family's stream, or bring an existing one to this configuration."""
        for event_family in sorted({family(event_type) for event_type in CATALOG}):
            config = StreamConfig(
                name=self.stream_name(event_family),
                subjects=[f"{self.prefix}.{event_family}.>"],
                duplicate_window=self.duplicate_window.total_seconds(),
            )
            try:
                await stream.add_stream(config)
            except BadRequestError:  # it exists with another configuration
                await stream.update_stream(config)

    async def _connected(self) -> JetStreamContext:
        if self._client is not None and self._client.is_closed:
            self._client = self._stream = None
        if self._stream is None:
            client = await nats.connect(
                self.url, connect_timeout=2, max_reconnect_attempts=3, reconnect_time_wait=1
            )
            stream = client.jetstream()
            try:
                await self.ensure_streams(stream)
            except Exception:
                await client.close()
                raise
            self._client, self._stream = client, stream
            logger.info("events.nats.connected", extra={"prefix": self.prefix})
        return self._stream

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
        self._client = self._stream = None
