"""The ERP draft a failed run leaves is deleted when its run is discarded or its invoice
voided, and the steps say so; a posted document is never deleted. SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlalchemy import select, update

from core.canonical.parties import PeriodStatus
from core.errors import PROBLEM_BASE_URI
from core.models.legal_entity import AccountingPeriodRow
from core.models.workflow_run import RunStatus, WorkflowRunRow
from process_apis.worker import replayer
from sandboxes.business_central import BusinessCentralState
from tests.conftest import Gateway, GatewayFactory
from tests.integration.test_credit_memos import (
    credit_body,
    open_case,
    posted_invoice,
    request_credit,
)
from tests.integration.test_exception_queue import ops_client
from tests.support.business_central import posts_document
from tests.support.invoices import US_COMPANY, invoice_body, last_month

US_ENTITY = "le_00000000000000000000000001"


class PostActionsDown(httpx.AsyncBaseTransport):
    """The ERP cannot post while `down`: a post action alone, or in a `$batch` of its own,
    is refused a connection; a `$batch` that creates the document too has it created and
    answers its post `503` (and what depends on the post `424`), leaving the draft. With
    `lose_answers` it posts and the answer is lost instead."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.down = False
        self.lose_answers = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.down and posts_document(request):
            if self.lose_answers:
                await self.inner.handle_async_request(request)
            elif request.url.path.endswith("/$batch"):
                return await self._created_not_posted(request)
            raise httpx.ConnectError("connection refused (injected)", request=request)
        return await self.inner.handle_async_request(request)

    async def _created_not_posted(self, request: httpx.Request) -> httpx.Response:
        operations = json.loads(request.content)["requests"]
        posts = {o["id"] for o in operations if o["url"].endswith("/Microsoft.NAV.post")}
        failed = posts | {o["id"] for o in operations if posts & set(o.get("dependsOn", ()))}
        if len(failed) == len(operations):  # nothing to create: no connection at all
            raise httpx.ConnectError("connection refused (injected)", request=request)
        kept = [o for o in operations if o["id"] not in failed]
        forwarded = httpx.Request(
            "POST", request.url, headers=request.headers, json={"requests": kept}
        )
        answer = await self.inner.handle_async_request(forwarded)
        await answer.aread()
        refused = [
            {
                "id": o["id"],
                "status": 503 if o["id"] in posts else 424,
                "headers": {},
                "body": {"error": {"code": "Unavailable", "message": "posting is down"}},
            }
            for o in operations
            if o["id"] in failed
        ]
        return httpx.Response(200, json={"responses": [*answer.json()["responses"], *refused]})

    async def aclose(self) -> None:
        await self.inner.aclose()


async def gateway_with_post_switch(
    make_gateway: GatewayFactory,
) -> tuple[Gateway, PostActionsDown, BusinessCentralState]:
    switches: dict[str, PostActionsDown] = {}

    def wrap(name: str, inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        switches[name] = PostActionsDown(inner)
        return switches[name]

    gateway = await make_gateway(wrap=wrap)
    assert gateway.backends.erp_sandbox is not None
    return gateway, switches["erp"], gateway.backends.erp_sandbox


def statuses(erp: BusinessCentralState, kind: str, external: str) -> list[str]:
    book = erp.books[US_COMPANY]
    documents: dict[str, Any] = book.invoices if kind == "invoice" else book.credit_memos
    return [d.status for d in documents.values() if d.external_document_number == external]


async def steps_of(gateway: Gateway, run_id: str) -> list[tuple[str, str]]:
    run = (await gateway.client.get(f"/v1/runs/{run_id}")).json()
    return [(step["name"], step["status"]) for step in run["steps"]]


async def discard(gateway: Gateway, run_id: str) -> dict[str, Any]:
    ops = await ops_client(gateway)
    closed = await ops.post(f"/ops/v1/exceptions/{run_id}/discard", json={"note": "given up"})
    await ops.aclose()
    assert closed.status_code == 200, closed.text
    return dict(closed.json())


async def run_cleanup(gateway: Gateway, closed: dict[str, Any]) -> WorkflowRunRow:
    cleanup_id = closed["result"]["erp_draft_cleanup_run_id"]
    await replayer(gateway.app.state.process).run_once()
    async with gateway.sessionmaker() as session:
        return await session.get_one(WorkflowRunRow, cleanup_id)


async def queued_posting(gateway: Gateway, erp: PostActionsDown) -> tuple[str, str]:
    invoice_id = (await gateway.client.post("/v1/invoices", json=invoice_body())).json()["id"]
    erp.down = True
    response = await gateway.client.post(
        f"/v1/invoices/{invoice_id}/postings", json={}, headers={"Idempotency-Key": invoice_id}
    )
    erp.down = False
    assert response.status_code == 202, response.text
    return invoice_id, response.json()["run_id"]


async def test_discarding_a_posting_deletes_the_draft_it_left_in_the_erp(
    make_gateway: GatewayFactory,
) -> None:
    gateway, erp, sandbox = await gateway_with_post_switch(make_gateway)
    invoice_id, run_id = await queued_posting(gateway, erp)
    assert statuses(sandbox, "invoice", invoice_id) == ["Draft"]
    closed = await discard(gateway, run_id)
    invoice = (await gateway.client.get(f"/v1/invoices/{invoice_id}")).json()
    assert invoice["status"] == "open"
    cleanup = await run_cleanup(gateway, closed)
    assert cleanup.status == RunStatus.SUCCEEDED
    assert cleanup.params["left_by_run_id"] == run_id
    assert cleanup.result is not None
    assert cleanup.result["erp_draft"] == invoice_id
    assert cleanup.result["erp_draft_deleted"]
    assert await steps_of(gateway, cleanup.id) == [
        ("find_erp_draft", "succeeded"),
        ("delete_erp_draft", "succeeded"),
    ]
    assert statuses(sandbox, "invoice", invoice_id) == []
    # the invoice posts anew, from a fresh draft
    again = await gateway.client.post(
        f"/v1/invoices/{invoice_id}/postings", json={}, headers={"Idempotency-Key": "again"}
    )
    assert again.status_code == 201, again.text
    assert statuses(sandbox, "invoice", invoice_id) == ["Open"]


async def test_a_document_posted_behind_a_lost_answer_is_never_deleted(
    make_gateway: GatewayFactory,
) -> None:
    gateway, erp, sandbox = await gateway_with_post_switch(make_gateway)
    erp.lose_answers = True
    invoice_id, run_id = await queued_posting(gateway, erp)
    assert statuses(sandbox, "invoice", invoice_id) == ["Open"]  # posted; we never heard
    cleanup = await run_cleanup(gateway, await discard(gateway, run_id))
    assert cleanup.status == RunStatus.FAILED
    assert cleanup.error_type == PROBLEM_BASE_URI + "erp-document-posted"
    assert await steps_of(gateway, cleanup.id) == [("find_erp_draft", "succeeded")]
    assert statuses(sandbox, "invoice", invoice_id) == ["Open"]


async def _open_last_month(gateway: Gateway) -> None:
    """Our calendar takes last month while the ERP's still refuses it: the post fails."""
    async with gateway.sessionmaker.begin() as session:
        await session.execute(
            update(AccountingPeriodRow)
            .where(
                AccountingPeriodRow.legal_entity_id == US_ENTITY,
                AccountingPeriodRow.starts_on == last_month().replace(day=1),
            )
            .values(status=PeriodStatus.OPEN)
        )


async def test_voiding_an_invoice_whose_posting_failed_deletes_its_erp_draft(
    gateway: Gateway,
) -> None:
    assert gateway.backends.erp_sandbox is not None
    sandbox = gateway.backends.erp_sandbox
    await _open_last_month(gateway)
    body = invoice_body(invoice_date=last_month())
    invoice_id = (await gateway.client.post("/v1/invoices", json=body)).json()["id"]
    refused = await gateway.client.post(
        f"/v1/invoices/{invoice_id}/postings", json={}, headers={"Idempotency-Key": "p"}
    )
    assert refused.status_code in (422, 502), refused.text
    assert statuses(sandbox, "invoice", invoice_id) == ["Draft"]
    voided = await gateway.client.post(
        f"/v2/invoices/{invoice_id}/void",
        json={"reason": "posted in the wrong month"},
        headers={"Idempotency-Key": "v"},
    )
    assert voided.status_code == 200, voided.text
    run_id = voided.json()["run"]["run_id"]
    assert await steps_of(gateway, run_id) == [
        ("find_erp_draft", "succeeded"),
        ("delete_erp_draft", "succeeded"),
    ]
    run = (await gateway.client.get(f"/v1/runs/{run_id}")).json()
    assert run["result"]["erp_draft"] == invoice_id
    assert statuses(sandbox, "invoice", invoice_id) == []
    # a voided invoice never posted: no draft, no ERP step
    plain = (await gateway.client.post("/v1/invoices", json=invoice_body())).json()["id"]
    done = await gateway.client.post(
        f"/v2/invoices/{plain}/void", json={"reason": "twice"}, headers={"Idempotency-Key": "w"}
    )
    assert await steps_of(gateway, done.json()["run"]["run_id"]) == []


async def test_discarding_a_credit_deletes_the_draft_memo_it_left(
    make_gateway: GatewayFactory,
) -> None:
    gateway, erp, sandbox = await gateway_with_post_switch(make_gateway)
    invoice = await posted_invoice(gateway)
    case_id = await open_case(gateway)
    erp.down = True
    queued = await request_credit(gateway.client, credit_body(invoice["id"], case_id, 100), "k")
    erp.down = False
    assert queued.status_code == 202, queued.text
    memo_id = queued.json()["id"]
    assert statuses(sandbox, "memo", memo_id) == ["Draft"]
    closed = await discard(gateway, queued.json()["last_run"]["id"])
    memo = (await gateway.client.get(f"/v1/credit-memos/{memo_id}")).json()
    assert memo["status"] == "rejected"
    cleanup = await run_cleanup(gateway, closed)
    assert cleanup.status == RunStatus.SUCCEEDED
    assert statuses(sandbox, "memo", memo_id) == []
    async with gateway.sessionmaker() as session:
        reversals = await session.scalar(
            select(WorkflowRunRow.id).where(WorkflowRunRow.workflow == "credit_memo_reversal")
        )
    assert reversals is None  # nothing was posted: nothing to reverse
