"""`ledgergate sandbox billing --webhook-url ...` and `sandbox crm --crm-webhook-url ...`:
the sandboxes' signed events over the wire."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from app.sandbox_servers import PORTS, sandbox_url
from sandboxes.faults import FAULTS_PATH
from tests.support.sandbox_processes import (
    REPO_ROOT,
    STARTUP_SECONDS,
    free_ports,
    sandbox_process,
)

SECRET = "whsec_sandbox"  # the webhook secrets' default, which the sandboxes sign with


class Receiver(ThreadingHTTPServer):
    """Records each delivery; answers the first with a 500, the rest with a 200."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.deliveries: list[tuple[str, bytes, int]] = []


class Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        status = 500 if not self.server.deliveries else 200
        signature = self.headers["Stripe-Signature"] or self.headers["Channel-Signature"]
        self.server.deliveries.append((signature, body, status))
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        return None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_the_billing_sandbox_sends_signed_events_and_retries_a_failed_delivery(
    receiver: Receiver,
) -> None:
    hook = f"http://127.0.0.1:{receiver.server_address[1]}/webhooks/billing/stripe"
    with sandbox_process("billing", options=("--webhook-url", hook)) as billing:
        stripe = httpx.Client(
            base_url=billing.origin, headers={"Authorization": "Bearer sk_test_cli"}
        )
        customer = stripe.post("/v1/customers", data={"name": "Acme"}).json()
        stripe.post(
            "/v1/invoiceitems", data={"customer": customer["id"], "amount": 1200, "currency": "usd"}
        ).raise_for_status()
        invoice = stripe.post("/v1/invoices", data={"customer": customer["id"]}).json()
        stripe.post(f"/v1/invoices/{invoice['id']}/finalize").raise_for_status()
        deadline = time.monotonic() + 30
        while len(receiver.deliveries) < 2:  # refused once, then retried a second later
            assert time.monotonic() < deadline, receiver.deliveries
            time.sleep(0.1)
    (first_signature, first, refused), (signature, body, accepted) = receiver.deliveries[:2]
    assert (refused, accepted) == (500, 200)
    assert first == body
    event: dict[str, Any] = json.loads(body)
    assert (event["type"], event["data"]["object"]["id"]) == ("invoice.finalized", invoice["id"])
    timestamp, _, digest = signature.removeprefix("t=").partition(",v1=")
    signed = hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    assert digest == signed.hexdigest()
    assert first_signature.startswith("t=")


def test_the_crm_sandbox_sends_a_signed_accepted_quote(receiver: Receiver) -> None:
    hook = f"http://127.0.0.1:{receiver.server_address[1]}/webhooks/crm/channel"
    with sandbox_process("crm", options=("--crm-webhook-url", hook)) as crm:
        channel = httpx.Client(base_url=crm.api_root, headers={"Authorization": "Bearer t"})
        quote = channel.post(
            "/quotes",
            json={
                "customerRef": "cus_1",
                "serviceStart": "2026-12-06",
                "lines": [{"priceRef": "price_1", "quantity": 2}],
            },
        ).json()
        channel.post(f"/quotes/{quote['id']}/accept").raise_for_status()
        deadline = time.monotonic() + 30
        while len(receiver.deliveries) < 2:  # refused once, then retried
            assert time.monotonic() < deadline, receiver.deliveries
            time.sleep(0.1)
    (_, first, refused), (signature, body, accepted) = receiver.deliveries[:2]
    assert (refused, accepted, first) == (500, 200, body)
    event: dict[str, Any] = json.loads(body)
    assert (event["type"], event["data"]["id"]) == ("quote.accepted", quote["id"])
    timestamp, _, digest = signature.removeprefix("t=").partition(",v1=")
    signed = hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    assert digest == signed.hexdigest()


def test_sandbox_all_serves_the_four_backends_on_consecutive_ports() -> None:
    first = free_ports(len(PORTS))
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "sandbox", "all", "--port", str(first)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        urls = {name: sandbox_url(name, port=first + offset) for offset, name in enumerate(PORTS)}
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                answers = {
                    name: httpx.get(httpx.URL(url).join(FAULTS_PATH)) for name, url in urls.items()
                }
                break
            except httpx.TransportError:
                assert process.poll() is None
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert {name: answer.status_code for name, answer in answers.items()} == dict.fromkeys(
            PORTS, 200
        )
        companies = httpx.get(f"{urls['erp']}/companies").json()["value"]
        assert len(companies) == 2
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0].decode()
    for name, url in urls.items():
        assert f"LEDGERGATE_{name.upper()}__URL={url}" in output
