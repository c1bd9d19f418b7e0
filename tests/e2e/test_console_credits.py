"""Credits in the console over HTTP, on SQLite and PostgreSQL: four eyes as the API has
them, one answer per drawn form, and both operators in the audit trail."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select

from core.models.audit_event import AuditEventRow
from tests.conftest import Gateway
from tests.integration.test_credit_memos import open_case, posted_invoice
from tests.support.console import signed_in

KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')


async def form_key(browser: httpx.AsyncClient, path: str) -> str:
    page = await browser.get(path)
    match = KEY.search(page.text)
    assert match is not None, page.text
    return match.group(1)


async def test_one_operator_requests_another_approves(gateway: Gateway) -> None:
    invoice = await posted_invoice(gateway)
    case_id = await open_case(gateway)
    ana, ana_csrf = await signed_in(gateway, "ana", "operator")
    bob, bob_csrf = await signed_in(gateway, "bob", "operator")
    form = {
        "csrf_token": ana_csrf,
        "idempotency_key": await form_key(ana, "/console/credits"),
        "invoice_id": invoice["id"],
        "amount": "15000",
        "currency": "USD",
        "reason_code": "outage",
        "case_id": case_id,
        "settlement": "",
    }
    requested = await ana.post("/console/credits", data=form)
    assert requested.status_code == 303, requested.text
    memo_path = requested.headers["location"]
    memo_id = memo_path.rsplit("/", 1)[1]
    again = await ana.post("/console/credits", data=form)  # the same form sent twice
    assert again.headers["location"] == memo_path
    assert memo_id in (await bob.get("/console/credits")).text

    approval = {"csrf_token": ana_csrf, "idempotency_key": await form_key(ana, memo_path)}
    own = await ana.post(f"{memo_path}/approve", data=approval)
    assert own.status_code == 422
    assert "another operator must approve it" in own.text
    read = (await gateway.client.get(f"/v1/credit-memos/{memo_id}")).json()
    assert read["status"] == "requested"

    approval = {"csrf_token": bob_csrf, "idempotency_key": await form_key(bob, memo_path)}
    approved = await bob.post(f"{memo_path}/approve", data=approval)
    assert approved.status_code == 303, approved.text
    read = (await gateway.client.get(f"/v1/credit-memos/{memo_id}")).json()
    assert (read["status"], read["requested_by"], read["approved_by"]) == ("posted", "ana", "bob")
    assert (await bob.post(f"{memo_path}/approve", data=approval)).status_code == 303
    assert memo_id not in (await bob.get("/console/credits")).text

    async with gateway.sessionmaker() as session:
        rows = await session.scalars(
            select(AuditEventRow)
            .where(AuditEventRow.client_id.in_(["ana", "bob"]))
            .order_by(AuditEventRow.id)
        )
        trail = [(r.client_id, r.action, r.object_id, r.outcome) for r in rows]
    approve = "POST /console/credits/{credit_memo_id}/approve"
    assert ("ana", "POST /console/credits", memo_id, "succeeded") in trail
    assert ("ana", approve, memo_id, "rejected") in trail
    assert ("bob", approve, memo_id, "succeeded") in trail


async def test_a_viewer_cannot_request_and_a_form_needs_its_token(gateway: Gateway) -> None:
    vera, vera_csrf = await signed_in(gateway, "vera", "viewer")
    page = await vera.get("/console/credits")
    assert "Request credit" not in page.text
    refused = await vera.post("/console/credits", data={"csrf_token": vera_csrf})
    assert refused.status_code == 403
    ana, _ = await signed_in(gateway, "ana", "operator")
    forged = await ana.post("/console/credits", data={"amount": "1"})
    assert forged.status_code == 403
    assert forged.headers["content-type"] == "application/problem+json"


async def test_an_invalid_form_is_answered_on_the_page(gateway: Gateway) -> None:
    ana, csrf = await signed_in(gateway, "ana", "operator")
    sent = await ana.post(
        "/console/credits",
        data={"csrf_token": csrf, "invoice_id": "inv_x", "amount": "-5", "currency": "USD"},
    )
    assert sent.status_code == 422
    assert 'role="alert"' in sent.text
    assert 'value="inv_x"' in sent.text
