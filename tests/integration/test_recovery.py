"""Finance-grade guarantees of the process tier under concurrency and failure.

- 200 concurrent identical requests with one Idempotency-Key make one ERP document
  and identical answers (or 409 problems while the first is in flight).
- With the ERP sandbox failing 30 % of its calls, every posting ends posted exactly
  once after the replay worker drains the queue, and reconciliation is clean.
  It posts `LEDGERGATE_RECOVERY_POSTINGS` (200) invoices in process; `make chaos`
  runs a storm of 500 against the gateway and the ERP sandbox as processes.
"""

import asyncio
import json
import os
from collections import Counter
from datetime import date, timedelta

import pytest
from sqlalchemy import update

from app.seed import demo_id
from core.models.base import utcnow
from core.models.workflow_run import RunStatus, WorkflowRunRow
from process_apis.worker import replayer
from sandboxes.faults import FAULTS_ENV, FAULTS_PATH
from tests.conftest import FAST_RETRIES, Gateway, GatewayFactory
from tests.support.invoices import US_COMPANY, invoice_body

POSTINGS = int(os.environ.get("LEDGERGATE_RECOVERY_POSTINGS", "200"))
CONCURRENCY = 20


async def test_200_identical_concurrent_requests_make_one_erp_document(
    make_gateway: GatewayFactory,
) -> None:
    # All 200 at once, past the default admission limit: here the key decides, not the limit.
    gateway = await make_gateway(rate_limits={"enabled": False}, max_in_flight=0)
    invoice_id = (await gateway.client.post("/v1/invoices", json=invoice_body())).json()["id"]
    responses = await asyncio.gather(
        *(
            gateway.client.post(
                f"/v1/invoices/{invoice_id}/postings",
                json={},
                headers={"Idempotency-Key": "the-one-key"},
            )
            for _ in range(200)
        )
    )
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, statuses
    answers = {r.text for r in responses if r.status_code == 201}
    assert len(answers) == 1  # the first answer, replayed byte for byte
    conflicts = [r.json()["type"] for r in responses if r.status_code == 409]
    assert set(conflicts) <= {"https://ledgergate.dev/problems/idempotency-request-in-flight"}
    assert gateway.backends.erp_sandbox is not None
    assert gateway.backends.erp_sandbox.document_count(US_COMPANY, invoice_id) == 1


async def post_all(gateway: Gateway, invoice_ids: list[str]) -> Counter[int]:
    limit = asyncio.Semaphore(CONCURRENCY)

    async def post(invoice_id: str) -> int:
        async with limit:
            response = await gateway.client.post(
                f"/v1/invoices/{invoice_id}/postings",
                json={},
                headers={"Idempotency-Key": f"storm-{invoice_id}"},
            )
            return response.status_code

    return Counter(await asyncio.gather(*(post(i) for i in invoice_ids)))


async def drain(gateway: Gateway, *, rounds: int = 30) -> int:
    """Run the replay worker until the queue is empty, moving the clock past each backoff."""
    replay = replayer(gateway.app.state.process)
    for round_number in range(rounds):
        async with gateway.sessionmaker.begin() as session:  # time passes
            await session.execute(
                update(WorkflowRunRow)
                .where(WorkflowRunRow.status == RunStatus.PENDING_RETRY)
                .values(next_attempt_at=utcnow() - timedelta(seconds=1))
            )
        report = await replay.run_once(limit=1000)
        if report.claimed == 0:
            return round_number
    pytest.fail("the queue did not drain")


async def test_postings_under_30_percent_erp_failures_all_post_exactly_once(
    make_gateway: GatewayFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FAULTS_ENV, json.dumps({"seed": 2026, "error_rate": 0.3}))
    gateway = await make_gateway(
        erp={**FAST_RETRIES, "circuit_failure_threshold": 50, "circuit_reset_seconds": 0.01},
        rate_limits={"enabled": False},
    )
    body = invoice_body()
    invoice_ids = [
        (await gateway.client.post("/v1/invoices", json=body)).json()["id"] for _ in range(POSTINGS)
    ]
    statuses = await post_all(gateway, invoice_ids)
    assert set(statuses) <= {201, 202}, statuses  # posted now, or queued: never lost, never 5xx
    assert statuses[202] > 0, "the storm should have queued some postings"

    await drain(gateway)
    erp = gateway.backends.erp_sandbox
    assert erp is not None
    assert all(erp.document_count(US_COMPANY, i) == 1 for i in invoice_ids)
    posted = {doc.external_document_number for doc in erp.posted_invoices(US_COMPANY)}
    assert set(invoice_ids) <= posted

    calm = await gateway.backends.clients["erp"].request(
        "DELETE", f"http://erp.sandbox{FAULTS_PATH}", operation="faults_off"
    )
    assert calm.is_success
    ops = await gateway.client_with(["ops:read"], client_id="recon")
    report = (
        await ops.get(
            "/ops/v1/reconciliation",
            params={
                "period": date.today().strftime("%Y-%m"),
                "legal_entity": demo_id("legal_entity", 1),
            },
        )
    ).json()
    await ops.aclose()
    assert report.get("clean") is True, report
    assert report["totals"][0]["gateway_count"] == POSTINGS
