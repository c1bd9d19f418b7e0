"""The exception queue and its replay: worker, operator actions, concurrent claims."""

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update

from app.seed import demo_id
from core.canonical.parties import ClosedPeriodPolicy
from core.models.base import utcnow
from core.models.idempotency_key import IdempotencyKeyRow, IdempotencyStatus
from core.models.legal_entity import LegalEntityRow
from core.models.workflow_run import RunStatus, WorkflowRunRow
from process_apis.idempotency import IdempotencyStore
from process_apis.runs.engine import Engine
from process_apis.runs.queue import claim_due
from process_apis.worker import replayer
from tests.conftest import Gateway, GatewayFactory
from tests.support.faults import SwitchableTransport, switchable_backends
from tests.support.invoices import US_COMPANY, invoice_body, last_month


async def with_erp_switch(make_gateway: GatewayFactory) -> tuple[Gateway, SwitchableTransport]:
    switches, wrap = switchable_backends()

    gateway = await make_gateway(wrap=wrap)
    return gateway, switches["erp"]


async def queued_posting(gateway: Gateway, erp: SwitchableTransport, key: str) -> tuple[str, str]:
    invoice_id = (await gateway.client.post("/v1/invoices", json=invoice_body())).json()["id"]
    erp.down = True
    response = await gateway.client.post(
        f"/v1/invoices/{invoice_id}/postings", json={}, headers={"Idempotency-Key": key}
    )
    erp.down = False
    assert response.status_code == 202, response.text
    return invoice_id, response.json()["run_id"]


async def make_due(gateway: Gateway, run_id: str) -> None:
    async with gateway.sessionmaker.begin() as session:
        await session.execute(
            update(WorkflowRunRow)
            .where(WorkflowRunRow.id == run_id)
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )


def erp_documents(gateway: Gateway, invoice_id: str) -> int:
    assert gateway.backends.erp_sandbox is not None
    return gateway.backends.erp_sandbox.document_count(US_COMPANY, invoice_id)


async def test_the_worker_replays_a_queued_posting_when_it_is_due(
    make_gateway: GatewayFactory,
) -> None:
    gateway, erp = await with_erp_switch(make_gateway)
    invoice_id, run_id = await queued_posting(gateway, erp, "q-1")
    replay = replayer(gateway.app.state.process)
    assert (await replay.run_once()).claimed == 0  # not due yet: backoff
    await make_due(gateway, run_id)
    report = await replay.run_once()
    assert (report.claimed, report.outcomes) == (1, {"succeeded": 1})
    invoice = (await gateway.client.get(f"/v1/invoices/{invoice_id}")).json()
    assert invoice["status"] == "posted"
    assert invoice["last_run"]["id"] == run_id
    assert erp_documents(gateway, invoice_id) == 1


async def test_a_run_abandoned_by_a_dead_process_is_picked_up(make_gateway: GatewayFactory) -> None:
    gateway, erp = await with_erp_switch(make_gateway)
    invoice_id, run_id = await queued_posting(gateway, erp, "q-2")
    async with gateway.sessionmaker.begin() as session:  # as if a replica died mid-run
        await session.execute(
            update(WorkflowRunRow)
            .where(WorkflowRunRow.id == run_id)
            .values(status=RunStatus.RUNNING, next_attempt_at=utcnow() - timedelta(seconds=1))
        )
    report = await replayer(gateway.app.state.process).run_once()
    assert report.outcomes == {"succeeded": 1}
    assert erp_documents(gateway, invoice_id) == 1


async def test_concurrent_workers_never_claim_the_same_run(gateway: Gateway) -> None:
    async with gateway.sessionmaker.begin() as session:
        for index in range(12):
            run = Engine(gateway.sessionmaker, steps=()).new_run(
                workflow="invoice_posting",
                subject_id=f"inv_{index}",
                legal_entity_id=None,
                params={},
                correlation_id=None,
                client_id=None,
            )
            run.status = RunStatus.PENDING_RETRY
            run.next_attempt_at = utcnow() - timedelta(minutes=1)
            session.add(run)
    claims = await asyncio.gather(
        *(claim_due(gateway.sessionmaker, limit=5) for _ in range(4)), return_exceptions=True
    )
    taken = [run_id for claim in claims if isinstance(claim, list) for run_id, _ in claim]
    assert len(taken) == len(set(taken))
    assert len(taken) <= 12


async def ops_client(gateway: Gateway) -> httpx.AsyncClient:
    return await gateway.client_with(
        ["ops:read", "ops:write", "runs:read"], client_id="finance-ops"
    )


async def test_the_queue_filters_on_the_legal_entity_the_run_was_created_with(
    make_gateway: GatewayFactory,
) -> None:
    gateway, erp = await with_erp_switch(make_gateway)
    _, run_id = await queued_posting(gateway, erp, "entity")
    async with gateway.sessionmaker() as session:
        run = await session.get_one(WorkflowRunRow, run_id)
    assert run.legal_entity_id == demo_id("legal_entity", 1)
    ops = await ops_client(gateway)

    async def listed(legal_entity: str) -> list[str]:
        page = await ops.get("/ops/v1/exceptions", params={"legal_entity": legal_entity})
        assert page.status_code == 200, page.text
        return [item["id"] for item in page.json()["items"]]

    assert await listed(demo_id("legal_entity", 1)) == [run_id]
    assert await listed(demo_id("legal_entity", 2)) == []
    invalid = await ops.get("/ops/v1/exceptions", params={"legal_entity": "LG-US"})
    assert invalid.status_code == 422
    assert invalid.headers["content-type"] == "application/problem+json"


async def test_operators_see_the_queue_and_replay_a_business_failure_once_fixed(
    gateway: Gateway,
) -> None:
    invoice_id = (
        await gateway.client.post("/v1/invoices", json=invoice_body(invoice_date=last_month()))
    ).json()["id"]
    refused = await gateway.client.post(
        f"/v1/invoices/{invoice_id}/postings", json={}, headers={"Idempotency-Key": "closed"}
    )
    assert refused.status_code == 422
    run_id = refused.json()["run_id"]
    ops = await ops_client(gateway)
    queue = (await ops.get("/ops/v1/exceptions", params={"error_class": "business"})).json()
    [entry] = queue["items"]
    assert entry["id"] == run_id
    assert entry["age_seconds"] >= 0

    async with gateway.sessionmaker.begin() as session:  # finance changes the entity's policy
        await session.execute(
            update(LegalEntityRow)
            .where(LegalEntityRow.id == demo_id("legal_entity", 1))
            .values(closed_period_policy=ClosedPeriodPolicy.ROLL_FORWARD)
        )
    replayed = await ops.post(f"/ops/v1/exceptions/{run_id}/replay")
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["status"] == "succeeded"
    assert erp_documents(gateway, invoice_id) == 1
    again = await ops.post(f"/ops/v1/exceptions/{run_id}/replay")
    assert again.status_code == 409
    assert (await ops.get("/ops/v1/exceptions")).json()["items"] == []
    await ops.aclose()


async def test_discarding_a_queued_posting_reopens_the_invoice(
    make_gateway: GatewayFactory,
) -> None:
    gateway, erp = await with_erp_switch(make_gateway)
    invoice_id, run_id = await queued_posting(gateway, erp, "q-3")
    ops = await ops_client(gateway)
    closed = await ops.post(
        f"/ops/v1/exceptions/{run_id}/discard", json={"note": "customer cancelled the order"}
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "discarded"
    assert closed.json()["result"]["closed_by"] == "finance-ops"
    invoice = (await gateway.client.get(f"/v1/invoices/{invoice_id}")).json()
    assert invoice["status"] == "open"
    resolve = await ops.post(f"/ops/v1/exceptions/{run_id}/resolve", json={"note": "x"})
    assert resolve.status_code == 409
    await ops.aclose()


async def test_runs_are_listed_by_status_and_workflow(make_gateway: GatewayFactory) -> None:
    gateway, erp = await with_erp_switch(make_gateway)
    await queued_posting(gateway, erp, "q-4")
    ops = await ops_client(gateway)
    listed = (
        await ops.get(
            "/ops/v1/runs", params={"status": "pending_retry", "workflow": "invoice_posting"}
        )
    ).json()
    assert len(listed["items"]) == 1
    assert (await ops.get("/ops/v1/runs", params={"status": "succeeded"})).json()["items"] == []
    await ops.aclose()


async def test_a_saas_client_cannot_touch_the_queue(gateway: Gateway) -> None:
    assert (await gateway.client.get("/ops/v1/exceptions")).status_code == 403
    response = await gateway.client.post("/ops/v1/exceptions/run_01jd0000000000000000000000/replay")
    assert response.status_code == 403


async def test_expired_idempotency_keys_are_purged(gateway: Gateway) -> None:
    now = utcnow()
    async with gateway.sessionmaker.begin() as session:
        for key, expires in (
            ("old", now - timedelta(hours=1)),
            ("fresh", now + timedelta(hours=1)),
        ):
            session.add(
                IdempotencyKeyRow(
                    client_id="c",
                    key=key,
                    method="POST",
                    path="/x",
                    request_hash="h",
                    status=IdempotencyStatus.COMPLETED,
                    expires_at=expires,
                )
            )
    store = IdempotencyStore(gateway.sessionmaker, timedelta(hours=24))
    assert await store.purge_expired() == 1
    async with gateway.sessionmaker() as session:
        assert await session.get(IdempotencyKeyRow, ("c", "fresh")) is not None


@pytest.mark.parametrize("status", [RunStatus.SUCCEEDED, RunStatus.DISCARDED])
async def test_finished_runs_are_not_in_the_queue(gateway: Gateway, status: RunStatus) -> None:
    async with gateway.sessionmaker.begin() as session:
        run = Engine(gateway.sessionmaker, steps=()).new_run(
            workflow="invoice_posting",
            subject_id="inv_x",
            legal_entity_id=None,
            params={},
            correlation_id=None,
            client_id=None,
        )
        run.status = status
        session.add(run)
    ops = await ops_client(gateway)
    assert (await ops.get("/ops/v1/exceptions")).json()["items"] == []
    await ops.aclose()


async def test_closing_an_unknown_run_is_a_404(gateway: Gateway) -> None:
    ops = await ops_client(gateway)
    response = await ops.post(
        "/ops/v1/exceptions/run_01jd0000000000000000000000/resolve", json={"note": "n"}
    )
    assert response.status_code == 404
    await ops.aclose()
