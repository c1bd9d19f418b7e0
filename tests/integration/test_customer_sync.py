"""The customer sync workflow: create and update synced to billing and the ERP with their
cross-references, on SQLite and PostgreSQL, asserting the sandboxes' records."""

from typing import Any

import httpx

from app.seed import demo_id
from core.errors import PROBLEM_BASE_URI
from process_apis.worker import replayer
from tests.conftest import Gateway, GatewayFactory
from tests.support.faults import switchable_backends
from tests.support.invoices import DE_COMPANY, US_COMPANY

US_ENTITY, DE_ENTITY = demo_id("legal_entity", 1), demo_id("legal_entity", 2)
GLOBEX = demo_id("customer", 2)


def body(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "Hooli Europe GmbH",
        "email": "ap@hooli.example",
        "legal_entity_id": DE_ENTITY,
        "currency": "EUR",
        **overrides,
    }


async def create(gateway: Gateway, key: str, **overrides: Any) -> httpx.Response:
    return await gateway.client.post(
        "/v1/customers", json=body(**overrides), headers={"Idempotency-Key": key}
    )


async def update(
    gateway: Gateway, customer_id: str, key: str, if_match: str | None = None, **fields: Any
) -> httpx.Response:
    headers = {"Idempotency-Key": key}
    if if_match is not None:
        headers["If-Match"] = if_match
    return await gateway.client.patch(f"/v1/customers/{customer_id}", json=fields, headers=headers)


def erp_customer(gateway: Gateway, company: str, number: str) -> Any:
    assert gateway.backends.erp_sandbox is not None
    book = gateway.backends.erp_sandbox.books[company]
    return next((c for c in book.customers.values() if c.number == number), None)


def billing_customers(gateway: Gateway, customer_id: str) -> list[dict[str, Any]]:
    assert gateway.backends.billing_sandbox is not None
    return [
        c
        for c in gateway.backends.billing_sandbox.customers.values()
        if c["metadata"].get("ledgergate_id") == customer_id
    ]


async def test_a_new_customer_is_synced_with_its_cross_references(gateway: Gateway) -> None:
    response = await create(gateway, "c-1", erp_number="HOOLI-EU")
    assert response.status_code == 201, response.text
    customer = response.json()
    assert customer["sync"]["state"] == "completed"
    assert response.headers["etag"] == f'"{customer["version"]}"'
    [held] = billing_customers(gateway, customer["id"])
    assert customer["refs"]["billing"] == held["id"]
    assert (held["name"], held["email"], held["metadata"]["currency"]) == (
        "Hooli Europe GmbH",
        "ap@hooli.example",
        "eur",
    )
    erp = erp_customer(gateway, DE_COMPANY, "HOOLI-EU")
    assert erp is not None
    assert customer["refs"]["erp"] == erp.id
    assert (erp.display_name, erp.currency_code) == ("Hooli Europe GmbH", "EUR")
    assert erp_customer(gateway, US_COMPANY, "HOOLI-EU") is None  # only its legal entity's
    run = (await gateway.client.get(customer["sync"]["run_url"])).json()
    assert run["workflow"] == "customer_sync"
    assert run["result"]["billing_ref"] == held["id"]


async def test_the_same_key_replays_the_creation(gateway: Gateway) -> None:
    first = await create(gateway, "c-1")
    again = await create(gateway, "c-1")
    assert again.status_code == first.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert len(billing_customers(gateway, first.json()["id"])) == 1
    reused = await create(gateway, "c-1", name="Someone else")
    assert reused.status_code == 422
    assert reused.json()["type"] == PROBLEM_BASE_URI + "idempotency-key-reused"
    unkeyed = await gateway.client.post("/v1/customers", json=body(name="Unkeyed Ltd"))
    assert unkeyed.status_code == 400  # a customer reaches billing and the ERP: key required
    assert unkeyed.json()["type"] == PROBLEM_BASE_URI + "idempotency-key-required"


async def test_a_name_within_its_published_length_only_once_stripped_is_refused(
    gateway: Gateway,
) -> None:
    padded = await create(gateway, "c-1", name=" " + "N" * 200)
    assert padded.status_code == 422
    problem = padded.json()
    assert problem["type"] == PROBLEM_BASE_URI + "validation-error"
    assert [error["pointer"] for error in problem["errors"]] == ["#/name"]
    kept = await create(gateway, "c-2", name=" Hooli GmbH ")
    assert (kept.status_code, kept.json()["name"]) == (201, "Hooli GmbH")


async def test_an_update_reaches_the_erp_under_if_match(gateway: Gateway) -> None:
    customer = (await create(gateway, "c-1")).json()
    stale = f'"{customer["version"] - 1}"'
    refused = await update(gateway, customer["id"], "u-0", stale, name="Hooli Deutschland GmbH")
    assert refused.status_code == 412
    assert refused.json()["type"] == PROBLEM_BASE_URI + "precondition-failed"
    assert refused.json()["current_version"] == customer["version"]

    etag = (await gateway.client.get(f"/v1/customers/{customer['id']}")).headers["etag"]
    response = await update(gateway, customer["id"], "u-1", etag, name="Hooli Deutschland GmbH")
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["name"] == "Hooli Deutschland GmbH"
    assert updated["version"] > customer["version"]
    assert updated["refs"] == customer["refs"]  # the same backend records, updated in place
    erp = erp_customer(gateway, DE_COMPANY, customer["erp_number"])
    assert erp.display_name == "Hooli Deutschland GmbH"
    [billing] = billing_customers(gateway, customer["id"])
    assert billing["name"] == "Hooli Deutschland GmbH"
    assert billing["email"] == customer["email"]
    run = (await gateway.client.get(updated["sync"]["run_url"])).json()
    assert [s["name"] for s in run["steps"]] == ["update_billing_customer", "upsert_erp_customer"]

    again = await update(gateway, customer["id"], "u-2", etag, name="Too late")
    assert again.status_code == 412


async def test_an_update_checks_the_status_machine_and_references(gateway: Gateway) -> None:
    archived = await update(gateway, GLOBEX, "u-1", status="archived")
    assert archived.status_code == 200, archived.text
    revived = await update(gateway, GLOBEX, "u-2", status="active")
    assert revived.status_code == 409
    assert revived.json()["type"] == PROBLEM_BASE_URI + "invalid-status-transition"
    unknown = await update(gateway, GLOBEX, "u-3", partner_id=demo_id("partner", 9))
    assert unknown.status_code == 422
    assert unknown.json()["type"] == PROBLEM_BASE_URI + "unknown-reference"
    detached = await update(gateway, demo_id("customer", 1), "u-4", partner_id=None)
    assert detached.status_code == 200
    assert detached.json()["partner_id"] is None
    missing = await update(gateway, demo_id("customer", 9), "u-5", name="Nobody")
    assert missing.status_code == 404


async def test_an_unreachable_erp_saves_the_customer_and_a_replay_syncs_it(
    make_gateway: GatewayFactory,
) -> None:
    switches, wrap = switchable_backends()

    gateway = await make_gateway(wrap=wrap)
    switches["erp"].down = True
    response = await create(gateway, "c-1", legal_entity_id=US_ENTITY, currency="USD")
    assert response.status_code == 202, response.text
    customer = response.json()
    assert customer["sync"]["state"] == "pending_retry"
    assert response.headers["location"] == customer["sync"]["run_url"]
    assert customer["refs"]["billing"] is not None  # billing answered before the ERP failed
    assert customer["refs"]["erp"] is None
    stored = (await gateway.client.get(f"/v1/customers/{customer['id']}")).json()
    assert stored["name"] == "Hooli Europe GmbH"
    run = (await gateway.client.get(customer["sync"]["run_url"])).json()
    assert (run["status"], run["error_class"]) == ("pending_retry", "transient")

    switches["erp"].down = False
    status = await replayer(gateway.app.state.process).replay(customer["sync"]["run_id"])
    assert status == "succeeded"
    synced = (await gateway.client.get(f"/v1/customers/{customer['id']}")).json()
    erp = erp_customer(gateway, US_COMPANY, customer["erp_number"])
    assert erp is not None
    assert synced["refs"]["erp"] == erp.id
    assert len(billing_customers(gateway, customer["id"])) == 1  # not created twice
