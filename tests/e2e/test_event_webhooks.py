"""From a posted invoice to a partner's webhook receiver: the API records the events, the
worker's pass relays them to the webhook fan-out and delivers them to a real local
server, signed as Standard Webhooks, each body a CloudEvent its published schema
describes; another partner's endpoint receives none of them (both databases)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from jsonschema import Draft7Validator
from standardwebhooks import Webhook

from app.seed import demo_id
from events.catalog import validate
from events.envelope import CloudEvent
from process_apis.worker import BackgroundWork
from tests.conftest import GatewayFactory
from tests.support.governance import OPENAPI
from tests.support.invoices import invoice_body

ASYNCAPI = json.loads((OPENAPI / "asyncapi.json").read_text(encoding="utf-8"))
NORTHWIND, FABRIKAM = demo_id("partner", 1), demo_id("partner", 2)
INVOICE = "com.ledgergate.invoice.{}.v1"
Received = dict[str, list[tuple[dict[str, str], bytes]]]


@pytest.fixture
def receiver() -> Iterator[tuple[str, Received]]:
    """A real HTTP server on loopback keeping what each path is sent; it answers 204."""
    received: Received = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["content-length"]))
            headers = {k.lower(): v for k, v in self.headers.items()}
            received.setdefault(self.path, []).append((headers, body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


async def endpoint(client: httpx.AsyncClient, path: str, url: str) -> str:
    response = await client.post(path, json={"url": url, "event_types": []})
    assert response.status_code == 201, response.text
    return str(response.json()["secret"])


def matches_published_schema(event: CloudEvent) -> None:
    """The body fits the AsyncAPI document's envelope and its type's `data` schema."""
    schemas = ASYNCAPI["components"]["schemas"]
    Draft7Validator(schemas["CloudEvent"]).validate(event.model_dump(mode="json"))
    Draft7Validator(schemas[event.type]).validate(event.data)
    validate(event)  # and the catalog's own model


async def test_a_posted_invoice_reaches_its_partners_receiver_signed(
    make_gateway: GatewayFactory, receiver: tuple[str, Received]
) -> None:
    base, received = receiver
    gateway = await make_gateway(
        webhooks={"allow_private_addresses": True},
        reconciliation={"schedule_enabled": False},
        settlements={"schedule_enabled": False},
    )
    northwind = await gateway.client_with(
        ["partner:webhooks"], client_id="nw", partner_id=NORTHWIND
    )
    fabrikam = await gateway.client_with(["partner:webhooks"], client_id="fb", partner_id=FABRIKAM)
    secret = await endpoint(northwind, "/partner/v1/webhook-endpoints", f"{base}/northwind")
    await endpoint(fabrikam, "/partner/v1/webhook-endpoints", f"{base}/fabrikam")

    invoice = await gateway.client.post("/v1/invoices", json=invoice_body())  # Acme: Northwind's
    assert invoice.status_code == 201, invoice.text
    posting = await gateway.client.post(
        f"/v1/invoices/{invoice.json()['id']}/postings",
        json={},
        headers={"Idempotency-Key": "e2e-post"},
    )
    assert posting.status_code == 201, posting.text

    work = BackgroundWork(gateway.app.state.process)
    try:
        for _ in range(3):  # the relay, then the deliveries (one pass does both)
            await work.run_once()
    finally:
        await work.webhooks.aclose()

    # deliveries run concurrently: the receiver may see them in either order
    delivered = sorted(received.get("/northwind", []), key=lambda request: request[1])
    events = {
        event["type"]: event
        for event in (Webhook(secret).verify(body, headers) for headers, body in delivered)
    }
    assert set(events) == {INVOICE.format("registered"), INVOICE.format("posted")}
    assert len(delivered) == 2
    for headers, body in delivered:
        cloud_event = CloudEvent.model_validate_json(body)
        assert headers["webhook-id"] == cloud_event.id
        matches_published_schema(cloud_event)
        assert (cloud_event.subject, cloud_event.partnerid) == (invoice.json()["id"], NORTHWIND)
    posted = events[INVOICE.format("posted")]["data"]
    assert (posted["status"], posted["total"]) == ("posted", invoice.json()["total"])
    assert "/fabrikam" not in received  # another partner's customer's invoice is not theirs
    await northwind.aclose()
    await fabrikam.aclose()
