"""Voiding an invoice before it is posted: here and in billing, never in the ERP, on
SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import update

from core.errors import PROBLEM_BASE_URI
from core.models.base import utcnow
from core.models.workflow_run import WorkflowRunRow
from process_apis.worker import replayer
from tests.conftest import Gateway, GatewayFactory
from tests.integration.test_credit_memos import bill_in_stripe
from tests.support.faults import switchable_backends
from tests.support.invoices import invoice_body

REASON = {"reason": "Registered twice by mistake"}


async def registered(gateway: Gateway) -> dict[str, Any]:
    response = await gateway.client.post(
        "/v1/invoices", json=invoice_body(), headers={"Idempotency-Key": "register"}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def void(gateway: Gateway, invoice_id: str, key: str) -> httpx.Response:
    return await gateway.client.post(
        f"/v2/invoices/{invoice_id}/void", json=REASON, headers={"Idempotency-Key": key}
    )


async def test_an_unposted_invoice_is_voided_once_and_can_no_longer_be_posted(
    gateway: Gateway,
) -> None:
    invoice = await registered(gateway)
    first = await void(gateway, invoice["id"], "void-1")
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "void"
    assert first.json()["run"]["state"] == "completed"
    assert first.json()["already_voided"] is False
    replayed = await void(gateway, invoice["id"], "void-1")
    assert replayed.headers["idempotent-replayed"] == "true"
    again = await void(gateway, invoice["id"], "void-2")
    assert again.status_code == 200
    assert again.json()["already_voided"] is True
    assert again.json()["run"]["run_id"] == first.json()["run"]["run_id"]
    read = (await gateway.client.get(f"/v2/invoices/{invoice['id']}")).json()
    assert read["status"] == "void"
    posting = await gateway.client.post(
        f"/v2/invoices/{invoice['id']}/postings", json={}, headers={"Idempotency-Key": "post"}
    )
    assert posting.status_code == 409
    assert gateway.backends.erp_sandbox is not None
    assert all(not book.invoices for book in gateway.backends.erp_sandbox.books.values())


async def test_a_posted_invoice_is_not_voidable_and_the_key_is_required(gateway: Gateway) -> None:
    invoice = await registered(gateway)
    posted = await gateway.client.post(
        f"/v2/invoices/{invoice['id']}/postings", json={}, headers={"Idempotency-Key": "post"}
    )
    assert posted.status_code == 201, posted.text
    refused = await void(gateway, invoice["id"], "void")
    assert refused.status_code == 409
    assert refused.json()["type"] == PROBLEM_BASE_URI + "invoice-not-voidable"
    assert refused.json()["invoice_status"] == "posted"
    no_key = await gateway.client.post(f"/v2/invoices/{invoice['id']}/void", json=REASON)
    assert no_key.status_code == 400
    blank = await gateway.client.post(
        f"/v2/invoices/{invoice['id']}/void",
        json={"reason": "   "},
        headers={"Idempotency-Key": "b"},
    )
    assert blank.status_code == 422


async def test_billings_invoice_is_voided_too(gateway: Gateway) -> None:
    invoice = await registered(gateway)
    billing_id = await bill_in_stripe(gateway, invoice)
    voided = await void(gateway, invoice["id"], "void")
    assert voided.status_code == 200, voided.text
    assert (await gateway.backends.billing.get_invoice(billing_id)).status == "void"


async def test_billing_refusing_hands_the_invoice_back_open(gateway: Gateway) -> None:
    invoice = await registered(gateway)
    billing_id = await bill_in_stripe(gateway, invoice)
    await gateway.backends.billing.pay_invoice(
        billing_id, paid_out_of_band=True, idempotency_key="paid-meanwhile"
    )
    refused = await void(gateway, invoice["id"], "void")
    assert refused.status_code == 422
    problem = refused.json()
    assert problem["type"] == PROBLEM_BASE_URI + "billing-refused-void"
    assert "You can only void" not in problem["detail"]  # billing's words stay on the run
    read = (await gateway.client.get(f"/v2/invoices/{invoice['id']}")).json()
    assert read["status"] == "open"
    run = (await gateway.client.get(problem["run_url"])).json()
    assert run["status"] == "failed"


async def test_billing_down_queues_the_void_and_the_worker_finishes_it(
    make_gateway: GatewayFactory,
) -> None:
    switches, wrap = switchable_backends()

    gateway = await make_gateway(wrap=wrap)
    invoice = await registered(gateway)
    billing_id = await bill_in_stripe(gateway, invoice)
    switches["billing"].down = True
    queued = await void(gateway, invoice["id"], "void")
    assert queued.status_code == 202, queued.text
    run_id = queued.json()["run"]["run_id"]
    assert queued.headers["location"] == queued.json()["run"]["run_url"]
    # no posting may start while billing is still to be told
    posting = await gateway.client.post(
        f"/v2/invoices/{invoice['id']}/postings", json={}, headers={"Idempotency-Key": "post"}
    )
    assert posting.status_code == 409
    switches["billing"].down = False
    async with gateway.sessionmaker.begin() as session:
        await session.execute(
            update(WorkflowRunRow)
            .where(WorkflowRunRow.id == run_id)
            .values(next_attempt_at=utcnow())
        )
    report = await replayer(gateway.app.state.process).run_once()
    assert report.outcomes == {"succeeded": 1}
    assert (await gateway.backends.billing.get_invoice(billing_id)).status == "void"
