"""`POST /v1/posting-batches`: many invoices posted as bulk work, each with its own run and
outcome, on both ERPs; a partly failed batch queues exactly its failed items, and their
retry posts nothing twice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from core.errors import PROBLEM_BASE_URI
from core.models.base import utcnow
from core.models.workflow_run import WorkflowRunRow
from process_apis.runs.replay import Replayer
from process_apis.worker import replayer
from sandboxes.faults import FaultConfig
from system_apis.erp.adapters import business_central_bulk
from tests.conftest import Gateway
from tests.support.erps import ErpCase
from tests.support.invoices import US_COMPANY, invoice_body, last_month


async def register(gateway: Gateway, count: int, **kwargs: Any) -> list[str]:
    ids = []
    for _ in range(count):
        created = await gateway.client.post("/v1/invoices", json=invoice_body(**kwargs))
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    return ids


async def post_batch(gateway: Gateway, body: dict[str, Any], key: str) -> httpx.Response:
    return await gateway.client.post(
        "/v1/posting-batches", json=body, headers={"Idempotency-Key": key}
    )


async def batch_of(gateway: Gateway, answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code == 202, answer.text
    read = await gateway.client.get(answer.headers["Location"])
    assert read.status_code == 200, read.text
    batch: dict[str, Any] = read.json()
    return batch


async def test_a_batch_posts_each_invoice_through_its_own_run(erp_case: ErpCase) -> None:
    gateway = erp_case.gateway
    today = await register(gateway, 4)
    closed = await register(gateway, 1, invoice_date=last_month())

    batch = await batch_of(
        gateway, await post_batch(gateway, {"invoice_ids": today + closed}, "b-1")
    )

    assert batch["status"] == "completed"
    assert [item["invoice_id"] for item in batch["items"]] == today + closed
    assert [item["outcome"] for item in batch["items"]] == ["posted"] * 4 + ["failed"]
    assert batch["items"][4]["error_type"] == PROBLEM_BASE_URI + "closed-period"
    assert sorted(erp_case.posted_invoices()) == sorted(today)
    assert [erp_case.invoice_count(invoice_id) for invoice_id in today] == [1] * 4
    runs = [await gateway.client.get(item["run_url"]) for item in batch["items"]]
    assert [run.json()["status"] for run in runs] == ["succeeded"] * 4 + ["failed"]
    post_step = next(s for s in runs[0].json()["steps"] if s["name"] == "post_document")
    assert (
        post_step["outcome"]["source"] == "bulk"
    )  # created and posted in one request, read after it
    invoice = await gateway.client.get(f"/v1/invoices/{today[0]}")
    assert invoice.json()["status"] == "posted"


async def test_the_same_key_answers_the_same_batch_and_posted_invoices_are_not_posted_again(
    erp_case: ErpCase,
) -> None:
    gateway = erp_case.gateway
    ids = await register(gateway, 2)
    first = await post_batch(gateway, {"invoice_ids": ids}, "b-2")
    again = await post_batch(gateway, {"invoice_ids": ids}, "b-2")
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["id"] == first.json()["id"]

    other = await batch_of(gateway, await post_batch(gateway, {"invoice_ids": ids}, "b-3"))
    assert [item["outcome"] for item in other["items"]] == ["already_posted"] * 2
    assert [erp_case.invoice_count(invoice_id) for invoice_id in ids] == [1, 1]


async def test_a_billing_run_registers_and_posts_its_invoices(erp_case: ErpCase) -> None:
    gateway = erp_case.gateway
    invoices = [invoice_body(), invoice_body(lines=(("Seats", 2, 1000, "STANDARD"),))]
    batch = await batch_of(gateway, await post_batch(gateway, {"invoices": invoices}, "b-4"))
    assert [item["outcome"] for item in batch["items"]] == ["posted", "posted"]
    assert sorted(erp_case.posted_invoices()) == sorted(i["invoice_id"] for i in batch["items"])


async def test_bad_batches_are_refused_with_a_problem(gateway: Gateway) -> None:
    [invoice_id] = await register(gateway, 1)
    unknown = "inv_00000000000000000000000000"
    refused = await post_batch(gateway, {"invoice_ids": [invoice_id, unknown]}, "b-5")
    assert refused.status_code == 422
    assert refused.json()["type"] == PROBLEM_BASE_URI + "unknown-invoice"
    assert refused.json()["pointer"] == "#/invoice_ids/1"
    twice = await post_batch(gateway, {"invoice_ids": [invoice_id, invoice_id]}, "b-6")
    assert twice.status_code == 422
    neither = await post_batch(gateway, {}, "b-7")
    assert neither.status_code == 422
    keyless = await gateway.client.post("/v1/posting-batches", json={"invoice_ids": [invoice_id]})
    assert keyless.status_code == 400


async def make_all_due(gateway: Gateway) -> None:
    async with gateway.sessionmaker.begin() as session:
        await session.execute(
            update(WorkflowRunRow)
            .where(WorkflowRunRow.next_attempt_at.is_not(None))
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )


async def drain(gateway: Gateway, replay: Replayer) -> None:
    for _ in range(5):
        await make_all_due(gateway)
        if (await replay.run_once()).claimed == 0:
            return


async def test_a_partly_failed_batch_queues_exactly_its_failed_items(erp_case: ErpCase) -> None:
    gateway = erp_case.gateway
    ids = await register(gateway, 40)
    faults = gateway.backends.faults[erp_case.backend]
    faults.configure(FaultConfig(error_rate=0.1, seed=11))

    batch = await batch_of(gateway, await post_batch(gateway, {"invoice_ids": ids}, "b-8"))

    faults.configure(FaultConfig())
    outcomes = {item["invoice_id"]: item["outcome"] for item in batch["items"]}
    queued = [invoice_id for invoice_id, outcome in outcomes.items() if outcome == "queued"]
    assert queued, "the faults hit no posting"
    assert set(outcomes.values()) == {"posted", "queued"}
    exceptions = await (await gateway.client_with({"ops:read"})).get(
        "/ops/v1/exceptions", params={"limit": 100}
    )
    in_queue = {run["subject_id"] for run in exceptions.json()["items"]}
    assert in_queue == set(queued)  # exactly the failed items wait in the exception queue

    await drain(gateway, replayer(gateway.app.state.process))

    assert sorted(erp_case.posted_invoices()) == sorted(ids)
    assert [erp_case.invoice_count(invoice_id) for invoice_id in ids] == [1] * len(ids)


async def test_a_batch_request_whose_answer_was_lost_is_retried_without_posting_twice(
    gateway: Gateway,
) -> None:
    """Business Central handled the `$batch` (every document posted) but its answer was
    lost: each run is queued, and its retry finds its document by external number."""
    await batch_of(
        gateway, await post_batch(gateway, {"invoice_ids": await register(gateway, 1)}, "b-9")
    )
    ids = await register(gateway, 5)
    faults = gateway.backends.faults["erp"]
    faults.configure(FaultConfig(drop_rate=1.0))  # the batch is handled, its answer lost

    batch = await batch_of(gateway, await post_batch(gateway, {"invoice_ids": ids}, "b-10"))

    faults.configure(FaultConfig())
    assert [item["outcome"] for item in batch["items"]] == ["queued"] * 5
    books = gateway.backends.erp_sandbox
    assert books is not None
    assert [books.document_count(US_COMPANY, invoice_id) for invoice_id in ids] == [1] * 5
    await drain(gateway, replayer(gateway.app.state.process))
    assert [books.document_count(US_COMPANY, invoice_id) for invoice_id in ids] == [1] * 5
    assert sum(books.repeated_creates.values()) == 0  # looked up, never sent again
    for invoice_id in ids:
        invoice = await gateway.client.get(f"/v1/invoices/{invoice_id}")
        assert invoice.json()["status"] == "posted"


async def test_invoices_posted_but_not_read_back_are_retried_without_posting_twice(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Business Central posted every document of the `$batch`, but the read back after it
    lacked one: that run alone is queued, and its retry finds the document posted."""
    ids = await register(gateway, 4)
    every_filter = business_central_bulk.read_filters
    monkeypatch.setattr(
        business_central_bulk,
        "read_filters",
        lambda externals: every_filter([number for number in externals if number != ids[0]]),
    )

    batch = await batch_of(gateway, await post_batch(gateway, {"invoice_ids": ids}, "b-11"))

    monkeypatch.undo()
    assert [item["outcome"] for item in batch["items"]] == ["queued"] + ["posted"] * 3
    exceptions = await (await gateway.client_with({"ops:read"})).get("/ops/v1/exceptions")
    assert [run["subject_id"] for run in exceptions.json()["items"]] == ids[:1]
    books = gateway.backends.erp_sandbox
    assert books is not None
    await drain(gateway, replayer(gateway.app.state.process))
    assert [books.document_count(US_COMPANY, invoice_id) for invoice_id in ids] == [1] * 4
    assert sum(books.repeated_creates.values()) == 0  # looked up, never sent again
    invoice = await gateway.client.get(f"/v1/invoices/{ids[0]}")
    assert invoice.json()["status"] == "posted"
