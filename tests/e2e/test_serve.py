"""`ledgergate serve` as `make run` starts it: a real uvicorn process on a fresh SQLite file."""

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.seed import demo_id
from tests.support.gateway_process import (
    gateway_env,
    poll_until,
    start_gateway,
    stop,
    token,
)
from tests.support.invoices import INITECH, invoice_body
from tests.support.sandbox_processes import UNREACHABLE_URLS


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    database = tmp_path_factory.mktemp("serve") / "ledgergate.db"
    env = {
        **os.environ,
        "LEDGERGATE_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "LEDGERGATE_PORT": str(port),
        "LEDGERGATE_ENVIRONMENT": "development",
        "LEDGERGATE_WORKER_INTERVAL_SECONDS": "1",
    }
    # The log goes to a file: a pipe nobody reads fills up, and the gateway then blocks
    # on its next log line.
    log = database.with_name("gateway.log")
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve"],
            env=env,
            cwd=Path(__file__).resolve().parents[2],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            process.kill()
            pytest.fail(f"the gateway did not start: {log.read_text()[-2000:]}")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def platform(served: str) -> Iterator[httpx.Client]:
    """The seeded demo platform client, with a token from the real token endpoint."""
    token = httpx.post(
        f"{served}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=("demo-platform", "demo-platform-secret"),
    )
    assert token.status_code == 200, token.text
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    with httpx.Client(base_url=served, headers=headers) as client:
        yield client


def test_the_served_gateway_is_ready_on_its_seeded_estate(
    served: str, platform: httpx.Client
) -> None:
    readiness = httpx.get(f"{served}/readyz").json()
    backends = ("erp", "erp-netsuite", "billing", "crm", "support")
    assert readiness == {
        "status": "ready",
        "checks": {"database": "ok", **dict.fromkeys(backends, "ok")},
        "circuits": dict.fromkeys(backends, "closed"),
    }
    codes = [entity["code"] for entity in platform.get("/v1/legal-entities").json()]
    assert codes == ["LG-DE", "LG-US"]


def test_the_served_gateway_posts_an_invoice(platform: httpx.Client) -> None:
    invoice = platform.post("/v1/invoices", json=invoice_body()).json()
    posted = platform.post(
        f"/v1/invoices/{invoice['id']}/postings",
        json={},
        headers={"Idempotency-Key": f"serve-{invoice['id']}"},
    )
    assert posted.status_code == 201, posted.text
    assert posted.json()["posting"]["erp_document_number"].startswith("PS-INV")


def test_the_demo_estate_books_its_german_entity_in_netsuite(platform: httpx.Client) -> None:
    body = invoice_body(INITECH, currency="EUR")
    invoice = platform.post("/v1/invoices", json=body).json()
    posted = platform.post(
        f"/v1/invoices/{invoice['id']}/postings",
        json={},
        headers={"Idempotency-Key": f"serve-{invoice['id']}"},
    )
    assert posted.status_code == 201, posted.text
    assert posted.json()["posting"]["erp_document_number"].startswith("INV")  # NetSuite's tranId


def test_a_queued_posting_completes_by_itself(served: str, platform: httpx.Client) -> None:
    """`make run`: the ERP fails, the posting is queued (202); the ERP comes back, and the
    gateway's own background work posts it at the run's retry time, with nobody asking."""
    faults = f"{served}/_sandbox/erp/faults"
    assert httpx.post(faults, json={"error_rate": 1.0}).status_code == 200
    invoice = platform.post("/v1/invoices", json=invoice_body()).json()
    try:
        queued = platform.post(
            f"/v1/invoices/{invoice['id']}/postings",
            json={},
            headers={"Idempotency-Key": f"queued-{invoice['id']}"},
        )
    finally:
        assert httpx.delete(faults).status_code == 200
    assert queued.status_code == 202, queued.text
    run_url = queued.headers["Location"]
    deadline = time.monotonic() + 90  # the first retry is due 30 s after the failure
    while (run := platform.get(run_url).json())["status"] != "succeeded":
        assert run["status"] in ("pending_retry", "running"), run  # running: being retried
        assert time.monotonic() < deadline, run
        time.sleep(1)
    posted = platform.get(f"/v1/invoices/{invoice['id']}").json()
    assert posted["status"] == "posted"
    assert posted["posting"]["erp_document_number"].startswith("PS-INV")


def test_billing_events_drive_the_served_gateway_by_themselves(
    served: str, platform: httpx.Client
) -> None:
    """An order bills a first invoice in the billing sandbox, which sends its signed
    `invoice.finalized` and `invoice.paid` to the gateway's webhook; the gateway's own
    background work registers the invoice, posts it to the ERP and applies the payment."""
    customer = platform.post(
        "/v1/customers",
        json={
            "name": "Initech",
            "email": "ap@initech.example",
            "legal_entity_id": demo_id("legal_entity", 1),
            "currency": "USD",
        },
        headers={"Idempotency-Key": "serve-customer-1"},
    )
    assert customer.status_code == 201, customer.text
    ordered = platform.post(
        "/v1/subscriptions",
        json={
            "customer_id": customer.json()["id"],
            "price_id": demo_id("price", 11),
            "quantity": 2,
        },
        headers={"Idempotency-Key": "serve-order-1"},
    )
    assert ordered.status_code == 201, ordered.text
    subscription_id = ordered.json()["subscription"]["id"]
    finance = token(served, "demo-finance-ops", "demo-finance-ops-secret")
    ops = httpx.Client(base_url=served, headers={"Authorization": f"Bearer {finance}"})
    deadline = time.monotonic() + 60
    while not (
        applied := ops.get(
            "/ops/v1/runs", params={"workflow": "payment", "status": "succeeded"}
        ).json()["items"]
    ):
        assert time.monotonic() < deadline, "billing's payment was never applied"
        time.sleep(1)
    payment = ops.get(f"/v1/payments/{applied[0]['subject_id']}").json()
    assert (payment["source"], payment["status"], payment["amount"]) == (
        "billing",
        "applied",
        2 * 4900,
    )
    invoice = ops.get(f"/v1/invoices/{payment['invoice_id']}").json()
    assert (invoice["subscription_id"], invoice["status"]) == (subscription_id, "paid")
    assert invoice["posting"]["erp_document_number"].startswith("PS-INV")


def test_faults_of_a_backend_that_is_not_an_in_process_sandbox_are_not_found(
    served: str,
) -> None:
    answer = httpx.get(f"{served}/_sandbox/ledger/faults")
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"


def test_several_workers_start_and_log_json(tmp_path: Path) -> None:
    """The supervisor migrates and seeds once; each worker answers and logs JSON lines."""
    log = tmp_path / "serve.log"
    # several processes may not each run a sandbox of their own: backends are shared
    env = gateway_env(tmp_path / "ledgergate.db", **UNREACHABLE_URLS)
    process, base = start_gateway(env, log, workers=2)  # returns once both workers started
    sent = {f"workers-{attempt}" for attempt in range(8)}

    def logged() -> set[str | None]:
        *lines, _unfinished = log.read_text(errors="replace").split("\n")
        records = [json.loads(line) for line in lines if line.startswith("{")]
        return {r.get("correlation_id") for r in records if r.get("message") == "http.request"}

    try:
        for correlation_id in sorted(sent):  # spread over both workers
            answer = httpx.get(
                f"{base}/versions", headers={"X-Correlation-ID": correlation_id}, timeout=60
            )
            assert answer.status_code == 200
        poll_until(lambda: sent <= logged(), 60, "the request log lines")
    finally:
        stop(process)
    assert sent <= logged()
