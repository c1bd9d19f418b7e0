"""The JetStream sink against the real NATS server: publish, consume, de-duplicate, order."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from nats.js import JetStreamContext

from events.catalog import CATALOG, family
from events.envelope import CloudEvent
from events.nats import NatsSink
from events.sinks import close_sinks
from process_apis.worker import BackgroundWork
from tests.conftest import GatewayFactory
from tests.integration.test_nats import NATS_HOST, NATS_PORT
from tests.support.events import opened
from tests.support.invoices import invoice_body
from tests.support.services import service_missing

URL = f"nats://{NATS_HOST}:{NATS_PORT}"


@pytest.fixture
async def sink() -> AsyncIterator[NatsSink]:
    """A sink on streams of its own (a random prefix), deleted afterwards."""
    sink = NatsSink(
        URL, prefix=f"lgtest{uuid.uuid4().hex[:10]}", duplicate_window=timedelta(minutes=2)
    )
    try:
        await sink._connected()
    except Exception as error:  # noqa: BLE001 - whatever stops the connection
        service_missing("NATS", f"{URL}: {error}")
    yield sink
    stream = await sink._connected()
    for event_family in {family(event_type) for event_type in CATALOG}:
        await stream.delete_stream(sink.stream_name(event_family))
    await sink.aclose()


async def _consume(stream: JetStreamContext, subject: str, count: int) -> list[bytes]:
    subscription = await stream.pull_subscribe(subject)
    messages = await subscription.fetch(count, timeout=5)
    for message in messages:
        await message.ack()
    await subscription.unsubscribe()
    return [
        message.headers["Nats-Msg-Id"].encode() if message.headers else b"" for message in messages
    ]


async def test_events_are_published_once_each_in_order(sink: NatsSink) -> None:
    first = [opened("inv_1", attempt) for attempt in range(5)]
    await sink.publish(first)
    await sink.publish([*first[3:], opened("inv_1", 5)])  # a relay offering some again

    stream = await sink._connected()
    info = await stream.stream_info(sink.stream_name("exception"))
    assert info.config.duplicate_window == 120
    assert info.state.messages == 6
    consumed = await _consume(stream, f"{sink.prefix}.exception.opened", 6)
    assert consumed == [event.id.encode() for event in [*first, opened("inv_1", 5)]]


async def test_a_published_message_is_the_cloud_event(sink: NatsSink) -> None:
    event = opened("inv_2", 1)
    await sink.publish([event])
    stream = await sink._connected()
    subscription = await stream.pull_subscribe(f"{sink.prefix}.exception.>")
    (message,) = await subscription.fetch(1, timeout=5)
    assert message.subject == f"{sink.prefix}.exception.opened"
    assert message.data == event.model_dump_json().encode()


async def test_streams_are_brought_to_the_configured_window(sink: NatsSink) -> None:
    wider = NatsSink(URL, prefix=sink.prefix, duplicate_window=timedelta(minutes=10))
    await wider._connected()  # the streams exist with a 2-minute window: updated, not refused
    info = await (await wider._connected()).stream_info(sink.stream_name("invoice"))
    await wider.aclose()
    assert info.config.duplicate_window == 600
    assert info.config.subjects == [f"{sink.prefix}.invoice.>"]


async def test_an_unreachable_server_fails_the_batch() -> None:
    unreachable = NatsSink("nats://127.0.0.1:1", duplicate_window=timedelta(minutes=2))
    with pytest.raises(Exception):  # noqa: B017, PT011 - the client's own connection error
        await unreachable.publish([opened("inv_3", 1)])


async def test_the_worker_relays_a_registered_invoice_to_jetstream(
    make_gateway: GatewayFactory, sink: NatsSink
) -> None:
    gateway = await make_gateway(events={"nats_url": URL, "nats_stream_prefix": sink.prefix})
    invoice = (await gateway.client.post("/v1/invoices", json=invoice_body())).json()
    work = BackgroundWork(gateway.app.state.process)
    try:
        report = await work.relay.run_once()
    finally:
        await close_sinks(list(work.relay.sinks))
    assert report.published == {"webhooks": 1, "nats": 1}
    stream = await sink._connected()
    subscription = await stream.pull_subscribe(f"{sink.prefix}.invoice.registered")
    (message,) = await subscription.fetch(1, timeout=5)
    event = CloudEvent.model_validate_json(message.data)
    assert (event.type, event.subject) == ("com.ledgergate.invoice.registered.v1", invoice["id"])
    assert event.data["total"] == invoice["total"]
    assert await work.relay.lag_seconds() == 0.0
