"""Outbound webhooks on both databases: endpoints managed over the API, the fan-out the
relay publishes to, signed deliveries with retries and a delivery log, endpoint health,
resend and recover, partner isolation and the SSRF guard at creation and at delivery.

Receivers answer in the same process, behind a resolver the test controls, and one real
HTTP server on loopback (with the setting that allows private addresses).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import threading
from collections.abc import AsyncIterator, Iterator, Mapping
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import select
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from app.seed import demo_id
from core.errors import PROBLEM_BASE_URI
from core.models.audit_event import AuditEventRow
from core.models.base import utcnow
from core.models.event_outbox import EventOutboxRow
from core.models.webhook_attempt import WebhookAttemptRow
from core.models.webhook_endpoint import WebhookEndpointRow
from core.models.webhook_message import WebhookMessageRow
from events.envelope import CloudEvent, new_event
from events.webhooks.clients import Answer
from events.webhooks.context import WebhookContext
from events.webhooks.delivery import WebhookDelivery
from events.webhooks.fanout import WebhookFanout
from events.webhooks.guard import Target, UrlGuard
from events.webhooks.metrics import ENDPOINTS_DISABLED
from process_apis.worker import BackgroundWork
from tests.conftest import Gateway, GatewayFactory

PUBLIC = "93.184.216.34"
URL = "https://hooks.example.com/ledgergate"
ENDPOINTS = "/v1/webhook-endpoints"
PARTNER_ENDPOINTS = "/partner/v1/webhook-endpoints"
POSTED = "com.ledgergate.invoice.posted.v1"
VOIDED = "com.ledgergate.invoice.voided.v1"
DISABLED = "com.ledgergate.webhook_endpoint.disabled.v1"
NORTHWIND, FABRIKAM = demo_id("partner", 1), demo_id("partner", 2)
TIMEOUT = 0  # a receiver "status" that times out instead of answering


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Dns:
    """A resolver whose answer the test changes, as a rebinding attacker would."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = list(addresses)
        self.asked = 0

    async def __call__(self, _host: str, _port: int) -> list[str]:
        self.asked += 1
        return list(self.addresses)


@dataclasses.dataclass(frozen=True)
class Request:
    target: Target
    headers: dict[str, str]
    content: bytes


class Receiver:
    """Answers the given statuses in turn (then 204) and keeps every request."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.requests: list[Request] = []

    async def post(self, target: Target, headers: Mapping[str, str], body: bytes) -> Answer:
        self.requests.append(Request(target, dict(headers), body))
        status = self.statuses.pop(0) if self.statuses else 204
        if status == TIMEOUT:
            raise TimeoutError("no answer")
        return Answer(status, f"answered {status}")

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(request.content) for request in self.requests]


@dataclasses.dataclass
class Harness:
    gateway: Gateway
    context: WebhookContext
    dns: Dns
    clock: Clock
    opened: list[WebhookDelivery] = dataclasses.field(default_factory=list)

    def delivery(self, receiver: Receiver, **settings: Any) -> WebhookDelivery:
        delivery = WebhookDelivery(
            self.context.sessionmaker,
            self.context.settings.model_copy(update=settings),
            encryption=self.context.encryption,
            guard=self.context.guard,
            post=receiver.post,
            clock=self.clock,
        )
        self.opened.append(delivery)
        return delivery

    async def publish(self, *events: CloudEvent) -> None:
        await WebhookFanout(self.context.sessionmaker, clock=self.clock).publish(events)

    async def outbox(self, event_type: str) -> list[dict[str, Any]]:
        """The envelopes of `event_type` recorded in the outbox."""
        async with self.context.sessionmaker() as session:
            query = select(EventOutboxRow.envelope).where(EventOutboxRow.type == event_type)
            return list(await session.scalars(query))

    async def messages(self) -> list[WebhookMessageRow]:
        async with self.context.sessionmaker() as session:
            return list(await session.scalars(select(WebhookMessageRow)))


@pytest.fixture
async def harness(gateway: Gateway) -> AsyncIterator[Harness]:
    dns, clock = Dns(PUBLIC), Clock()
    guard = UrlGuard(https_only=True, allow_private=False, resolver=dns)
    context = dataclasses.replace(gateway.app.state.webhooks, guard=guard, clock=clock)
    gateway.app.state.webhooks = context
    harness = Harness(gateway, context, dns, clock)
    yield harness
    for delivery in harness.opened:
        await delivery.aclose()


def event(n: int = 1, *, kind: str = POSTED, partner: str | None = None) -> CloudEvent:
    return new_event(
        kind,
        fact=(f"run_{n}", "post"),
        subject=f"inv_{n}",
        data={"invoice_id": f"inv_{n}", "total": 5335, "currency": "USD"},
        time=utcnow(),
        partner_id=partner,
    )


async def create(client: httpx.AsyncClient, path: str = ENDPOINTS, **body: Any) -> dict[str, Any]:
    response = await client.post(path, json={"url": URL, **body})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_a_delivery_verifies_with_the_standardwebhooks_library(harness: Harness) -> None:
    client = harness.gateway.client
    endpoint = await create(client, description="ERP mirror")
    secret = endpoint["secret"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret[6:])) == 32
    receiver = Receiver()
    posted = event()
    await harness.publish(posted)

    assert (await harness.delivery(receiver).run_once()).attempted == 1

    [request] = receiver.requests
    payload = Webhook(secret).verify(request.content, dict(request.headers))
    assert payload["id"] == posted.id
    assert payload["data"]["total"] == 5335
    assert request.headers["webhook-id"] == posted.id
    assert request.target.url.host == PUBLIC
    assert request.target.host_header == "hooks.example.com"
    assert request.target.sni_hostname == "hooks.example.com"
    messages = (await client.get(f"{ENDPOINTS}/{endpoint['id']}/messages")).json()["items"]
    assert [(m["event_id"], m["status"]) for m in messages] == [(posted.id, "delivered")]
    attempts = await client.get(
        f"{ENDPOINTS}/{endpoint['id']}/messages/{messages[0]['id']}/attempts"
    )
    [attempt] = attempts.json()["items"]
    assert (attempt["outcome"], attempt["status_code"]) == ("delivered", 204)
    assert attempt["response_excerpt"] == "answered 204"


async def test_the_secret_is_shown_once_and_stored_encrypted(harness: Harness) -> None:
    endpoint = await create(harness.gateway.client)
    shown = (await harness.gateway.client.get(f"{ENDPOINTS}/{endpoint['id']}")).json()
    assert "secret" not in shown
    assert shown["status"] == "enabled"
    async with harness.context.sessionmaker() as session:
        row = await session.get(WebhookEndpointRow, endpoint["id"])
    assert row is not None
    assert endpoint["secret"] not in row.secret_encrypted


async def test_a_rotated_secret_signs_beside_the_new_one_for_the_grace_period(
    harness: Harness,
) -> None:
    client = harness.gateway.client
    endpoint = await create(client)
    old = endpoint["secret"]
    rotated = await client.post(f"{ENDPOINTS}/{endpoint['id']}/secret/rotate")
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new != old
    receiver = Receiver()
    await harness.publish(event(1))
    await harness.delivery(receiver).run_once()
    during = receiver.requests[-1]
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        Webhook(secret).verify(during.content, dict(during.headers))

    harness.clock.advance(hours=24, minutes=1)  # the default grace is 24 hours
    await harness.publish(event(2))
    await harness.delivery(receiver).run_once()
    after = receiver.requests[-1]
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    Webhook(new).verify(after.content, dict(after.headers))
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(after.content, dict(after.headers))


async def test_failed_attempts_follow_the_retry_schedule_then_stop(harness: Harness) -> None:
    endpoint = await create(harness.gateway.client)
    receiver = Receiver(500, TIMEOUT, 302)  # a redirect is not followed: it fails
    delivery = harness.delivery(receiver, retry_schedule_seconds=[5, 300])
    await harness.publish(event())
    start = harness.clock.now

    await delivery.run_once()
    [message] = await harness.messages()
    assert message.status == "pending"
    assert message.next_attempt_at is not None
    assert 4.5 <= (message.next_attempt_at - start).total_seconds() <= 5.5
    assert (await delivery.run_once()).attempted == 0  # not due yet

    harness.clock.advance(seconds=6)
    await delivery.run_once()
    [message] = await harness.messages()
    assert message.next_attempt_at is not None
    assert 270 <= (message.next_attempt_at - harness.clock.now).total_seconds() <= 330

    harness.clock.advance(seconds=331)
    await delivery.run_once()
    [message] = await harness.messages()
    assert (message.status, message.attempts, message.next_attempt_at) == ("failed", 3, None)
    assert len(receiver.requests) == 3
    log = await harness.gateway.client.get(
        f"{ENDPOINTS}/{endpoint['id']}/messages/{message.id}/attempts"
    )
    outcomes = [(a["outcome"], a["status_code"], bool(a["error"])) for a in log.json()["items"]]
    assert outcomes == [("failed", 302, False), ("failed", None, True), ("failed", 500, False)]


def change(step: str, invoice: int = 1) -> CloudEvent:
    """A change `step` of invoice `invoice`: all of one invoice share a subject."""
    return new_event(
        POSTED,
        fact=(f"run_{invoice}", step),
        subject=f"inv_{invoice}",
        data={"invoice_id": f"inv_{invoice}", "total": 5335, "currency": "USD"},
        time=utcnow(),
    )


async def test_a_failed_delivery_holds_back_the_later_ones_of_its_subject(
    harness: Harness,
) -> None:
    await create(harness.gateway.client)
    receiver = Receiver(500)
    delivery = harness.delivery(receiver)
    first, second, other = change("a"), change("b"), change("a", invoice=2)
    await harness.publish(first)
    await delivery.run_once()  # fails: retried in about 5 s
    await harness.publish(second, other)

    assert (await delivery.run_once()).attempted == 1  # the other invoice only
    harness.clock.advance(seconds=6)
    await delivery.run_once()

    assert [e["id"] for e in receiver.events()] == [first.id, other.id, first.id, second.id]
    assert {m.status for m in await harness.messages()} == {"delivered"}


async def test_a_subject_is_sent_in_turn_and_stops_at_its_first_failure(
    harness: Harness,
) -> None:
    await create(harness.gateway.client)
    receiver = Receiver(204, 500)
    delivery = harness.delivery(receiver)
    changes = [change(step) for step in "abc"]
    await harness.publish(*changes)

    assert (await delivery.run_once()).attempted == 2
    attempts = {m.event_id: (m.status, m.attempts) for m in await harness.messages()}
    assert attempts == {
        changes[0].id: ("delivered", 1),
        changes[1].id: ("pending", 1),
        changes[2].id: ("pending", 0),  # never sent ahead of the failed one
    }
    assert (await delivery.run_once()).attempted == 0  # both wait for the retry
    harness.clock.advance(seconds=6)
    await delivery.run_once()
    ids = [changes[n].id for n in (0, 1, 1, 2)]
    assert [e["id"] for e in receiver.events()] == ids


async def test_an_endpoint_failing_past_the_threshold_is_disabled(harness: Harness) -> None:
    client = harness.gateway.client
    endpoint = await create(client)
    receiver = Receiver(*[500] * 6)  # every attempt until the endpoint is enabled again
    delivery = harness.delivery(
        receiver, disable_after_failures=3, disable_after=timedelta(hours=1)
    )
    before = ENDPOINTS_DISABLED.labels("failing")._value.get()
    await harness.publish(event(1), event(2), event(3))
    await delivery.run_once()
    shown = (await client.get(f"{ENDPOINTS}/{endpoint['id']}")).json()
    assert (shown["status"], shown["consecutive_failures"]) == ("enabled", 3)  # not an hour yet

    harness.clock.advance(hours=2)
    await delivery.run_once()
    shown = (await client.get(f"{ENDPOINTS}/{endpoint['id']}")).json()
    assert (shown["status"], shown["disabled_reason"]) == ("disabled", "failing")
    assert ENDPOINTS_DISABLED.labels("failing")._value.get() == before + 1

    await harness.publish(event(4))  # a disabled endpoint gets no new messages
    assert len(await harness.messages()) == 3
    harness.clock.advance(hours=3)
    assert (await delivery.run_once()).attempted == 0
    [disabled] = await harness.outbox(DISABLED)  # recorded once, with the disabling
    assert (disabled["subject"], disabled["data"]["reason"]) == (endpoint["id"], "failing")
    assert disabled["data"]["consecutive_failures"] == 4

    enabled = await client.patch(f"{ENDPOINTS}/{endpoint['id']}", json={"disabled": False})
    assert (enabled.json()["status"], enabled.json()["consecutive_failures"]) == ("enabled", 0)
    await delivery.run_once()  # its pending messages resume
    assert {m.status for m in await harness.messages()} == {"delivered"}


async def test_410_gone_disables_the_endpoint_at_once(harness: Harness) -> None:
    endpoint = await create(harness.gateway.client)
    await harness.publish(event())
    await harness.delivery(Receiver(410)).run_once()
    shown = (await harness.gateway.client.get(f"{ENDPOINTS}/{endpoint['id']}")).json()
    assert (shown["status"], shown["disabled_reason"]) == ("disabled", "gone")
    [message] = await harness.messages()
    assert message.status == "failed"
    [disabled] = await harness.outbox(DISABLED)
    assert (disabled["subject"], disabled["data"]["reason"]) == (endpoint["id"], "gone")
    assert disabled["data"]["url"] == URL


async def test_filters_and_partners_decide_who_gets_an_event(harness: Harness) -> None:
    gateway = harness.gateway
    northwind = await gateway.client_with(
        ["partner:webhooks"], client_id="nw", partner_id=NORTHWIND
    )
    fabrikam = await gateway.client_with(["partner:webhooks"], client_id="fb", partner_id=FABRIKAM)
    everything = await create(gateway.client)
    voids = await create(gateway.client, event_types=[VOIDED])
    nw = await create(northwind, PARTNER_ENDPOINTS)
    fb = await create(fabrikam, PARTNER_ENDPOINTS)

    await harness.publish(event(1, partner=NORTHWIND), event(2, kind=VOIDED), event(3))
    received: dict[str, set[str]] = {}
    for message in await harness.messages():
        received.setdefault(message.endpoint_id, set()).add(message.event_id)
    assert received == {
        everything["id"]: {event(1).id, event(2, kind=VOIDED).id, event(3).id},
        voids["id"]: {event(2, kind=VOIDED).id},
        nw["id"]: {event(1).id},
    }
    assert fb["id"] not in received


async def test_a_filter_naming_a_type_the_catalog_lacks_is_refused(harness: Harness) -> None:
    client = harness.gateway.client
    unknown = "com.ledgergate.invoice.paid.v1"  # well formed, but no such event
    for response in (
        await client.post(ENDPOINTS, json={"url": URL, "event_types": [POSTED, unknown]}),
        await client.patch(
            f"{ENDPOINTS}/{(await create(client))['id']}", json={"event_types": [unknown]}
        ),
    ):
        assert response.status_code == 422, response.text
        problem = response.json()
        assert problem["type"] == PROBLEM_BASE_URI + "webhook-event-type-unknown"
        assert problem["unknown_event_types"] == [unknown]
        assert unknown in problem["detail"]
    [endpoint] = (await client.get(ENDPOINTS)).json()["items"]
    assert endpoint["event_types"] == []  # the refused change left the filter as it was
    disabled = await create(client, event_types=[DISABLED, POSTED, POSTED])
    assert disabled["event_types"] == [POSTED, DISABLED]  # each once, sorted


async def test_a_partner_manages_only_its_own_endpoints(harness: Harness) -> None:
    gateway = harness.gateway
    northwind = await gateway.client_with(
        ["partner:webhooks"], client_id="nw", partner_id=NORTHWIND
    )
    northwind_2 = await gateway.client_with(
        ["partner:webhooks"], client_id="nw2", partner_id=NORTHWIND
    )
    fabrikam = await gateway.client_with(["partner:webhooks"], client_id="fb", partner_id=FABRIKAM)
    nw = await create(northwind, PARTNER_ENDPOINTS)
    own = await northwind_2.get(f"{PARTNER_ENDPOINTS}/{nw['id']}")
    assert own.status_code == 200  # any client of the partner
    for client, path in (
        (fabrikam, PARTNER_ENDPOINTS),
        (gateway.client, ENDPOINTS),  # nor the platform client's API
    ):
        for method, suffix in (("GET", ""), ("PATCH", ""), ("DELETE", ""), ("GET", "/messages")):
            response = await client.request(
                method, f"{path}/{nw['id']}{suffix}", json={} if method == "PATCH" else None
            )
            assert response.status_code == 404, (path, method, suffix)
            assert response.json()["type"] == PROBLEM_BASE_URI + "webhook-endpoint-not-found"
        listed = (await client.get(path)).json()["items"]
        assert nw["id"] not in [e["id"] for e in listed]
    unbound = await gateway.client_with(["partner:webhooks"], client_id="unbound")
    refused = await unbound.get(PARTNER_ENDPOINTS)
    assert refused.status_code == 403


@pytest.mark.parametrize(
    ("url", "answers"),
    [
        ("https://127.0.0.1/in", []),
        ("https://169.254.169.254/latest/meta-data/", []),
        ("https://[fd00:ec2::254]/", []),
        ("https://hooks.example.com/in", ["10.0.0.7"]),
        ("https://hooks.example.com/in", ["100.64.1.1"]),
        ("http://hooks.example.com/in", [PUBLIC]),  # production: https only
    ],
)
async def test_urls_to_internal_addresses_are_refused_at_creation(
    harness: Harness, url: str, answers: list[str]
) -> None:
    harness.dns.addresses = answers
    response = await harness.gateway.client.post(ENDPOINTS, json={"url": url})
    assert response.status_code == 422, response.text
    assert response.json()["type"] == PROBLEM_BASE_URI + "webhook-url-refused"
    assert await harness.messages() == []


async def test_a_dns_answer_that_changes_before_delivery_is_refused(harness: Harness) -> None:
    endpoint = await create(harness.gateway.client)  # resolved to a public address
    harness.dns.addresses = ["127.0.0.1"]
    receiver = Receiver()
    await harness.publish(event())
    await harness.delivery(receiver).run_once()
    assert receiver.requests == []
    [message] = await harness.messages()
    log = await harness.gateway.client.get(
        f"{ENDPOINTS}/{endpoint['id']}/messages/{message.id}/attempts"
    )
    [attempt] = log.json()["items"]
    assert attempt["outcome"] == "refused"
    assert "127.0.0.1" in attempt["error"]
    assert message.status == "pending"  # retried: the answer may be right again


async def test_a_pass_checks_each_url_once_on_the_answer_it_gets_then(harness: Harness) -> None:
    endpoint = await create(harness.gateway.client)
    receiver = Receiver()
    delivery = harness.delivery(receiver)
    await harness.publish(*(event(n) for n in range(5)))
    asked = harness.dns.asked
    assert (await delivery.run_once()).attempted == 5
    assert harness.dns.asked == asked + 1

    harness.dns.addresses = ["10.0.0.7"]  # the next pass sees the new answer
    await harness.publish(event(5), event(6))
    assert (await delivery.run_once()).attempted == 2
    assert harness.dns.asked == asked + 2
    assert len(receiver.requests) == 5
    messages = (await harness.gateway.client.get(f"{ENDPOINTS}/{endpoint['id']}/messages")).json()
    assert sorted(m["status"] for m in messages["items"]) == ["delivered"] * 5 + ["pending"] * 2


async def test_a_delivered_message_can_be_resent(harness: Harness) -> None:
    client = harness.gateway.client
    endpoint = await create(client)
    receiver = Receiver()
    delivery = harness.delivery(receiver)
    await harness.publish(event())
    await delivery.run_once()
    [message] = await harness.messages()
    resent = await client.post(f"{ENDPOINTS}/{endpoint['id']}/messages/{message.id}/resend")
    assert resent.status_code == 202
    assert resent.json()["status"] == "pending"
    await delivery.run_once()
    assert [e["id"] for e in receiver.events()] == [event().id, event().id]
    log = await client.get(f"{ENDPOINTS}/{endpoint['id']}/messages/{message.id}/attempts")
    assert [a["outcome"] for a in log.json()["items"]] == ["delivered", "delivered"]


async def test_recover_resends_every_message_since_a_time(harness: Harness) -> None:
    client = harness.gateway.client
    endpoint = await create(client)
    receiver = Receiver()
    delivery = harness.delivery(receiver)
    await harness.publish(event(1))
    harness.clock.advance(hours=1)
    since = harness.clock.now
    await harness.publish(event(2), event(3))
    await delivery.run_once()
    recovered = await client.post(
        f"{ENDPOINTS}/{endpoint['id']}/recover", json={"since": since.isoformat()}
    )
    assert recovered.status_code == 202
    assert recovered.json() == {"resent": 2}
    await delivery.run_once()
    ids = [e["id"] for e in receiver.events()]
    assert sorted(ids[3:]) == sorted([event(2).id, event(3).id])


async def test_a_disabled_endpoint_refuses_resend_and_recover(harness: Harness) -> None:
    client = harness.gateway.client
    endpoint = await create(client)
    await harness.publish(event())
    [message] = await harness.messages()
    await client.patch(f"{ENDPOINTS}/{endpoint['id']}", json={"disabled": True})
    resend = await client.post(f"{ENDPOINTS}/{endpoint['id']}/messages/{message.id}/resend")
    recover = await client.post(
        f"{ENDPOINTS}/{endpoint['id']}/recover", json={"since": "2026-01-01T00:00:00Z"}
    )
    for response in (resend, recover):
        assert response.status_code == 409
        assert response.json()["type"] == PROBLEM_BASE_URI + "webhook-endpoint-disabled"


async def test_an_event_published_again_adds_no_message(harness: Harness) -> None:
    await create(harness.gateway.client)
    await harness.publish(event(1))
    await harness.publish(event(1), event(2))  # the relay offers the first one again
    messages = await harness.messages()
    assert sorted(m.event_id for m in messages) == sorted([event(1).id, event(2).id])


async def test_deleting_keeps_the_log_and_stops_deliveries(harness: Harness) -> None:
    client = harness.gateway.client
    endpoint = await create(client)
    await harness.publish(event(1))
    deleted = await client.delete(f"{ENDPOINTS}/{endpoint['id']}")
    assert deleted.status_code == 204
    assert (await client.get(ENDPOINTS)).json()["items"] == []
    shown = (await client.get(f"{ENDPOINTS}/{endpoint['id']}")).json()
    assert shown["status"] == "deleted"
    assert len((await client.get(f"{ENDPOINTS}/{endpoint['id']}/messages")).json()["items"]) == 1
    await harness.publish(event(2))
    assert (await harness.delivery(Receiver()).run_once()).attempted == 0
    patched = await client.patch(f"{ENDPOINTS}/{endpoint['id']}", json={"disabled": False})
    assert patched.json()["type"] == PROBLEM_BASE_URI + "webhook-endpoint-deleted"


async def test_endpoint_writes_are_audited(harness: Harness) -> None:
    endpoint = await create(harness.gateway.client)
    await harness.gateway.client.post(f"{ENDPOINTS}/{endpoint['id']}/secret/rotate")
    async with harness.context.sessionmaker() as session:
        actions = set(
            await session.scalars(
                select(AuditEventRow.action).where(AuditEventRow.client_id == "test-platform")
            )
        )
    assert {
        "POST /v1/webhook-endpoints",
        "POST /v1/webhook-endpoints/{endpoint_id}/secret/rotate",
    } <= actions


async def test_message_lists_are_cursor_paginated(harness: Harness) -> None:
    client = harness.gateway.client
    endpoint = await create(client)
    await harness.publish(*(event(n) for n in range(5)))
    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(f"{ENDPOINTS}/{endpoint['id']}/messages", params=params)).json()
        seen += [m["id"] for m in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert len(seen) == 5
    assert seen == sorted(seen, reverse=True)


@pytest.fixture
def local_receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    """A real HTTP server on loopback that keeps what it is sent and answers 204."""
    received: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["content-length"]))
            received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks", received
    server.shutdown()
    server.server_close()


async def test_the_worker_delivers_to_a_real_local_server(
    make_gateway: GatewayFactory,
    local_receiver: tuple[str, list[tuple[dict[str, str], bytes]]],
) -> None:
    url, received = local_receiver
    gateway = await make_gateway(
        webhooks={"allow_private_addresses": True},
        reconciliation={"schedule_enabled": False},
        settlements={"schedule_enabled": False},
    )
    endpoint = await create(gateway.client, url=url)
    posted = event()
    await WebhookFanout(gateway.sessionmaker).publish([posted])
    stop = asyncio.Event()
    worker = asyncio.create_task(
        BackgroundWork(gateway.app.state.process).run_forever(interval=0.05, stop=stop)
    )
    try:
        for _ in range(200):
            if received:
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await worker
    [(headers, body)] = received
    assert Webhook(endpoint["secret"]).verify(body, headers)["id"] == posted.id


async def test_loopback_is_refused_without_the_setting(
    gateway: Gateway, local_receiver: tuple[str, list[tuple[dict[str, str], bytes]]]
) -> None:
    url, _ = local_receiver
    response = await gateway.client.post(ENDPOINTS, json={"url": url})
    assert response.status_code == 422
    assert response.json()["type"] == PROBLEM_BASE_URI + "webhook-url-refused"


async def test_finance_operations_reach_every_endpoint_but_create_none(harness: Harness) -> None:
    gateway = harness.gateway
    northwind = await gateway.client_with(
        ["partner:webhooks"], client_id="nw", partner_id=NORTHWIND
    )
    ops = await gateway.client_with(["ops:read", "ops:write"], client_id="ops")
    platform = await create(gateway.client)
    partner = await create(northwind, PARTNER_ENDPOINTS)
    listed = (await ops.get("/ops/v1/webhook-endpoints")).json()["items"]
    assert {e["id"] for e in listed} == {platform["id"], partner["id"]}
    await harness.publish(event(1, partner=NORTHWIND))
    receiver = Receiver()
    await harness.delivery(receiver).run_once()
    [message] = (await ops.get(f"/ops/v1/webhook-endpoints/{partner['id']}/messages")).json()[
        "items"
    ]
    resent = await ops.post(
        f"/ops/v1/webhook-endpoints/{partner['id']}/messages/{message['id']}/resend"
    )
    assert resent.status_code == 202
    disabled = await ops.patch(
        f"/ops/v1/webhook-endpoints/{platform['id']}", json={"disabled": True}
    )
    assert disabled.json()["disabled_reason"] == "by_operator"
    assert (await ops.post("/ops/v1/webhook-endpoints", json={"url": URL})).status_code == 405
    assert (await gateway.client.get("/ops/v1/webhook-endpoints")).status_code == 403
    assert (await northwind.get("/ops/v1/webhook-endpoints")).status_code == 403


async def test_a_worker_skips_the_messages_another_is_claiming(
    harness: Harness, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("several workers claim side by side on PostgreSQL (SKIP LOCKED)")
    await create(harness.gateway.client)
    await harness.publish(*(event(n) for n in range(30)))
    receiver = Receiver()
    async with harness.context.sessionmaker() as other_worker:  # mid-claim: rows locked
        claimed = {
            message.event_id
            for message in await other_worker.scalars(
                select(WebhookMessageRow).order_by(WebhookMessageRow.id).limit(10).with_for_update()
            )
        }
        done = await asyncio.wait_for(harness.delivery(receiver).run_once(), timeout=20)
        await other_worker.rollback()
    assert done.attempted == 20
    sent = {e["id"] for e in receiver.events()}
    assert len(sent) == 20
    assert sent.isdisjoint(claimed)


async def test_a_batch_is_recorded_in_one_transaction(harness: Harness) -> None:
    await create(harness.gateway.client)
    await harness.publish(*(event(n) for n in range(1, 6)))
    engine = harness.context.sessionmaker.kw["bind"].sync_engine
    transactions: list[object] = []
    this_test = asyncio.current_task()

    def began(connection: object) -> None:
        if asyncio.current_task() is this_test:  # not the gateway's background loops
            transactions.append(connection)

    sqlalchemy_event.listen(engine, "begin", began)
    try:
        assert (await harness.delivery(Receiver(500, 204, 204, 204, 500)).run_once()).attempted == 5
    finally:
        sqlalchemy_event.remove(engine, "begin", began)

    assert len(transactions) == 2  # the claim, then every result of the batch together
    statuses = sorted(str(message.status) for message in await harness.messages())
    assert statuses == ["delivered"] * 3 + ["pending"] * 2
    async with harness.context.sessionmaker() as session:
        [endpoint] = list(await session.scalars(select(WebhookEndpointRow)))
    assert endpoint.consecutive_failures == 1  # the results in turn: the last one failed
    async with harness.context.sessionmaker() as session:
        logged = (
            await session.execute(select(WebhookAttemptRow.outcome, WebhookAttemptRow.status_code))
        ).all()
    assert sorted(logged) == [("delivered", 204)] * 3 + [("failed", 500)] * 2  # each attempt once
