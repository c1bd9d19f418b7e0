"""The audit trail: what is recorded, that it cannot be changed, and how ops read it."""

import pytest
from sqlalchemy import delete, update
from sqlalchemy.exc import DBAPIError

from core.models.audit_event import AuditEventRow
from tests.conftest import Gateway
from tests.support.invoices import invoice_body


async def events(gateway: Gateway, **params: str) -> list[dict[str, object]]:
    auditor = await gateway.client_with(["audit:read"], client_id="auditor")
    response = await auditor.get("/ops/v1/audit", params=params)
    await auditor.aclose()
    assert response.status_code == 200, response.text
    items: list[dict[str, object]] = response.json()["items"]
    return items


async def test_a_write_is_audited_with_its_object_and_correlation(gateway: Gateway) -> None:
    response = await gateway.client.post(
        "/v1/invoices", json=invoice_body(), headers={"X-Correlation-ID": "audit-1"}
    )
    assert response.status_code == 201
    [event] = await events(gateway, action="POST /v1/invoices")
    assert event["client_id"] == "test-platform"
    assert event["object_id"] == response.json()["id"]
    assert event["outcome"] == "succeeded"
    assert event["status_code"] == 201
    assert event["correlation_id"] == "audit-1"
    assert len(str(event["request_hash"])) == 64


async def test_an_idempotent_write_is_audited_once_with_its_answer_and_each_replay_too(
    gateway: Gateway,
) -> None:
    """The posting's row is written with its stored answer; a replay is a request of its
    own, audited after its response."""
    invoice_id = (await gateway.client.post("/v1/invoices", json=invoice_body())).json()["id"]
    path = f"/v1/invoices/{invoice_id}/postings"
    headers = {"Idempotency-Key": "audited", "X-Correlation-ID": "audit-2"}
    first = await gateway.client.post(path, json={}, headers=headers)
    replay = await gateway.client.post(path, json={}, headers=headers)
    assert (first.status_code, replay.status_code) == (201, 201)
    assert replay.headers["idempotent-replayed"] == "true"
    rows = await events(gateway, action="POST /v1/invoices/{invoice_id}/postings")
    assert [(e["object_id"], e["status_code"], e["outcome"]) for e in rows] == [
        (invoice_id, 201, "succeeded")
    ] * 2
    assert {e["correlation_id"] for e in rows} == {"audit-2"}
    assert len({str(e["request_hash"]) for e in rows}) == 1


async def test_reads_are_not_audited_and_failed_authentications_are_counted(
    gateway: Gateway,
) -> None:
    await gateway.client.get("/v1/legal-entities")
    await gateway.anonymous.get("/v1/legal-entities")
    for _ in range(3):
        await gateway.anonymous.post("/v1/invoices", json=invoice_body())
    await gateway.anonymous.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "intruder",
            "client_secret": "guess",
        },
    )
    await gateway.app.state.auth_failures.flush(finished_only=False)
    recorded = await events(gateway)
    assert [(e["action"], e["outcome"], e["count"]) for e in recorded] == [
        ("authentication", "denied", 5)  # one row for the source's minute, not one each
    ]
    assert recorded[0]["source_ip"] == "127.0.0.1"
    assert recorded[0]["status_code"] == 401


async def test_the_audit_trail_is_append_only(gateway: Gateway) -> None:
    await gateway.client.post("/v1/invoices", json=invoice_body())
    for statement in (update(AuditEventRow).values(outcome="forged"), delete(AuditEventRow)):
        async with gateway.sessionmaker.begin() as session:
            with pytest.raises(DBAPIError, match="append-only"):
                await session.execute(statement)


async def test_the_audit_trail_pages_with_a_stable_cursor(gateway: Gateway) -> None:
    for _ in range(5):
        await gateway.client.post("/v1/invoices", json=invoice_body())
    auditor = await gateway.client_with(["audit:read"], client_id="auditor")
    first = (await auditor.get("/ops/v1/audit", params={"limit": 2})).json()
    await gateway.client.post("/v1/invoices", json=invoice_body())  # an insert between pages
    second = (
        await auditor.get("/ops/v1/audit", params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()
    ids = [e["id"] for e in first["items"] + second["items"]]
    assert len(set(ids)) == 4
    assert ids == sorted(ids, reverse=True)
    bad = await auditor.get("/ops/v1/audit", params={"cursor": "!!!"})
    assert bad.status_code == 400
    assert (await auditor.get("/ops/v1/audit", params={"limit": 500})).status_code == 422
    await auditor.aclose()


async def test_a_saas_client_cannot_read_the_audit_trail(gateway: Gateway) -> None:
    response = await gateway.client.get("/ops/v1/audit")
    assert response.status_code == 403
