"""NATS JetStream, the broker the event relay publishes to, is there with JetStream on.

`.ci/run` starts it when it is not running; under `CI=true` its absence fails the run.
"""

from __future__ import annotations

import asyncio
import json
import os

from tests.support.services import service_missing

NATS_HOST = os.environ.get("LEDGERGATE_TEST_NATS_HOST", "127.0.0.1")
NATS_PORT = int(os.environ.get("LEDGERGATE_TEST_NATS_PORT", "4222"))


async def test_nats_answers_with_jetstream_enabled() -> None:
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(NATS_HOST, NATS_PORT), timeout=5
        )
    except (OSError, TimeoutError) as error:
        service_missing("NATS", f"{NATS_HOST}:{NATS_PORT}: {error}")
    try:
        # The server speaks first: `INFO {json}` describing itself.
        line = await asyncio.wait_for(reader.readline(), timeout=5)
    finally:
        writer.close()
        await writer.wait_closed()
    verb, _, payload = line.decode().partition(" ")
    assert verb == "INFO"
    assert json.loads(payload).get("jetstream") is True
