"""The console over HTTP: sign-in, sessions, CSRF, roles, the queue's actions and the audit."""

from __future__ import annotations

from sqlalchemy import select, update

from core.models.audit_event import AuditEventRow
from core.models.operator import OperatorRow
from tests.conftest import GatewayFactory
from tests.support.console import (
    PASSWORD,
    add_operator,
    gateway_with_erp_switch,
    queued_posting,
    signed_in,
)


async def test_a_page_without_a_session_sends_the_browser_to_sign_in(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway()
    response = await gateway.anonymous.get("/console/exceptions")
    assert (response.status_code, response.headers["location"]) == (303, "/console/sign-in")
    page = await gateway.anonymous.get("/console/sign-in")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp


async def test_sign_in_sets_a_strict_http_only_cookie_and_a_wrong_password_is_refused(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway()
    await add_operator(gateway, "ana", "operator")
    refused = await gateway.anonymous.post(
        "/console/sign-in", data={"name": "ana", "password": "not her password"}
    )
    assert refused.status_code == 401
    assert "set-cookie" not in refused.headers
    accepted = await gateway.anonymous.post(
        "/console/sign-in", data={"name": "ana", "password": PASSWORD}
    )
    cookie = accepted.headers["set-cookie"].lower()
    assert accepted.status_code == 303
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "path=/console" in cookie
    assert "secure" not in cookie  # the test environment is served over plain HTTP


async def test_the_cookie_is_secure_in_production_settings(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway(console={"secure_cookie": True})
    await add_operator(gateway, "ana", "operator")
    accepted = await gateway.anonymous.post(
        "/console/sign-in", data={"name": "ana", "password": PASSWORD}
    )
    assert "secure" in accepted.headers["set-cookie"].lower()


async def test_an_operator_replays_a_failed_posting_and_the_audit_names_them(
    make_gateway: GatewayFactory,
) -> None:
    gateway, erp = await gateway_with_erp_switch(make_gateway)
    invoice_id, run_id = await queued_posting(gateway, erp, "console-1")
    browser, csrf = await signed_in(gateway, "ana", "operator")
    queue = await browser.get("/console/exceptions")
    assert run_id in queue.text
    run_page = await browser.get(f"/console/runs/{run_id}")
    assert "check_tax_codes" in run_page.text
    assert "invoice_posting" in run_page.text

    replayed = await browser.post(
        f"/console/exceptions/{run_id}/replay",
        data={"csrf_token": csrf},
        headers={"HX-Request": "true"},
    )
    assert replayed.status_code == 200, replayed.text
    assert "succeeded" in replayed.text
    assert run_id not in (await browser.get("/console/exceptions")).text
    invoice = (await gateway.client.get(f"/v1/invoices/{invoice_id}")).json()
    assert invoice["status"] == "posted"
    async with gateway.sessionmaker() as session:
        audit = await session.scalar(select(AuditEventRow).where(AuditEventRow.object_id == run_id))
    assert audit is not None
    assert (audit.client_id, audit.action, audit.outcome) == (
        "ana",
        "POST /console/exceptions/{run_id}/{verb}",
        "succeeded",
    )


async def test_an_action_without_the_form_token_or_from_another_site_is_refused(
    make_gateway: GatewayFactory,
) -> None:
    gateway, erp = await gateway_with_erp_switch(make_gateway)
    _, run_id = await queued_posting(gateway, erp, "console-2")
    browser, csrf = await signed_in(gateway, "ana", "operator")
    url = f"/console/exceptions/{run_id}/replay"
    no_token = await browser.post(url, data={})
    wrong_token = await browser.post(url, data={"csrf_token": "x" * len(csrf)})
    other_site = await browser.post(
        url, data={"csrf_token": csrf}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    other_origin = await browser.post(
        url, data={"csrf_token": csrf}, headers={"Origin": "https://evil.example"}
    )
    for refused in (no_token, wrong_token, other_site, other_origin):
        assert refused.status_code == 403
        assert refused.json()["type"].endswith("/console-cross-site-request")
    assert run_id in (await browser.get("/console/exceptions")).text


async def test_a_viewer_sees_the_queue_but_cannot_act(make_gateway: GatewayFactory) -> None:
    gateway, erp = await gateway_with_erp_switch(make_gateway)
    _, run_id = await queued_posting(gateway, erp, "console-3")
    browser, csrf = await signed_in(gateway, "vera", "viewer")
    queue = await browser.get("/console/exceptions")
    assert run_id in queue.text
    assert "Replay" not in queue.text
    refused = await browser.post(f"/console/exceptions/{run_id}/replay", data={"csrf_token": csrf})
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("/forbidden")
    assert run_id in (await browser.get("/console/exceptions")).text


async def test_discard_needs_a_note_and_many_runs_are_acted_on_one_by_one(
    make_gateway: GatewayFactory,
) -> None:
    gateway, erp = await gateway_with_erp_switch(make_gateway)
    first_invoice, first = await queued_posting(gateway, erp, "console-4")
    _, second = await queued_posting(gateway, erp, "console-5")
    browser, csrf = await signed_in(gateway, "ana", "operator")
    no_note = await browser.post(
        f"/console/exceptions/{first}/discard",
        data={"csrf_token": csrf},
        headers={"HX-Request": "true"},
    )
    assert "a note is required" in no_note.text

    form = {
        "csrf_token": csrf,
        "verb": "discard",
        "note": "duplicate of INV-9",
        "run_id": [first, second],
    }
    step = await browser.post("/console/exceptions/bulk", data=form)
    assert 'value="1"' in step.text
    assert "1 of 2 done" in step.text
    assert f'name="run_id" value="{second}"' in step.text  # the next request asks for it
    last = await browser.post(
        "/console/exceptions/bulk",
        data={**form, "run_id": [second], "done": [f"{first} discard: discarded"]},
    )
    assert "2 of 2 done" in last.text
    assert 'hx-trigger="load"' not in last.text
    queue = (await browser.get("/console/exceptions")).text
    assert first not in queue
    assert second not in queue
    invoice = (await gateway.client.get(f"/v1/invoices/{first_invoice}")).json()
    assert invoice["status"] == "open"  # discarding a posting opens its invoice again


async def test_signing_out_or_disabling_the_operator_ends_the_session(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway()
    browser, csrf = await signed_in(gateway, "ana", "operator")
    async with gateway.sessionmaker.begin() as session:
        await session.execute(
            update(OperatorRow).where(OperatorRow.name == "ana").values(disabled=True)
        )
    assert (await browser.get("/console/exceptions")).status_code == 303
    other, other_csrf = await signed_in(gateway, "bo", "viewer")
    out = await other.post("/console/sign-out", data={"csrf_token": other_csrf})
    assert out.status_code == 303
    assert (await other.get("/console/exceptions")).status_code == 303


async def test_an_action_without_a_session_is_refused_not_redirected(
    make_gateway: GatewayFactory,
) -> None:
    gateway, erp = await gateway_with_erp_switch(make_gateway)
    _, run_id = await queued_posting(gateway, erp, "console-6")
    refused = await gateway.anonymous.post(
        f"/console/exceptions/{run_id}/replay", data={"csrf_token": "x"}
    )
    assert refused.status_code == 401
    assert refused.json()["type"].endswith("/console-sign-in-required")
