"""Every write with financial effect honours `Idempotency-Key` under the posting's rules.

The same key with the same request replays the first answer (`Idempotent-Replayed`),
with another request it is `422 idempotency-key-reused`; where the key is required a
request without one is `400 idempotency-key-required`, and the contract says so.
"""

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from app.seed import demo_id
from core.errors import PROBLEM_BASE_URI
from core.models.invoice import InvoiceRow
from tests.conftest import Gateway
from tests.e2e.test_versioning import v2_body
from tests.support.invoices import invoice_body

OPENAPI = Path(__file__).resolve().parents[2] / "openapi"

Body = dict[str, Any]


def _append(field: str) -> Callable[[Body], None]:
    def change(body: Body) -> None:
        body[field] += " again"

    return change


def _set(field: str, value: object) -> Callable[[Body], None]:
    def change(body: Body) -> None:
        body[field] = value

    return change


def _first_line(body: Body) -> None:
    body["lines"][0]["description"] += " again"


# Each write with financial effect, and a change that makes its example another request.
WRITES: dict[str, Callable[[Body], None]] = {
    "customers-create": _append("name"),
    "customers-update": _append("name"),
    "subscriptions-create": _set("quantity", 2),
    "subscriptions-amend": _set("quantity", 4),
    "subscriptions-cancel": _append("note"),
    "orders-create": _set("service_start", "2027-01-01"),
    "credit-memos-create": _append("note"),
    "credit-memos-approve": _append("note"),
    "invoices-correct": _append("reason"),
    "invoices-payments-create": _append("reference"),
    "payments-reversal-create": _append("reason"),
    "settlement-runs-create": _set("period", "2026-10"),
    "invoices-create": _first_line,
    "invoices-v2-create": _first_line,
    "invoices-post": _set("posting_date", "2026-11-26"),
    "invoices-v2-post": _set("posting_date", "2026-11-26"),
}
# Published in a released contract with the key declared optional: invoice registration
# honours a key it is sent; a posting refuses to run without one (as it always has).
RELEASED_OPTIONAL = {"invoices-create", "invoices-v2-create"}
RELEASED_REQUIRED = {"invoices-post", "invoices-v2-post"}
REQUIRED = set(WRITES) - RELEASED_OPTIONAL
PATH_IDS = {"customer_id": demo_id("customer", 1)}
SCOPES = (
    "customers:write",
    "subscriptions:write",
    "orders:write",
    "credit_memos:write",
    "credit_memos:approve",
    "payments:write",
    "payments:reverse",
    "settlements:write",
    "invoices:write",
    "invoices:post",
)


def operations() -> dict[str, tuple[str, str, dict[str, Any]]]:
    """Operation id → (method, path, operation) over the committed process contracts."""
    found = {}
    for name in ("v1.json", "v2.json"):
        for path, item in json.loads((OPENAPI / name).read_text())["paths"].items():
            for method, operation in item.items():
                if isinstance(operation, dict) and "operationId" in operation:
                    found[operation["operationId"]] = (method, path, operation)
    return found


OPERATIONS = operations()


def key_parameter(operation: dict[str, Any]) -> dict[str, Any]:
    [parameter] = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
    return parameter


def example_request(operation_id: str) -> tuple[str, str, Body]:
    method, path, operation = OPERATIONS[operation_id]
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            name = parameter["name"]
            value = PATH_IDS.get(name) or parameter["schema"]["examples"][0]
            path = path.replace("{" + name + "}", value)
    body = copy.deepcopy(operation["requestBody"]["content"]["application/json"]["example"])
    if operation_id == "invoices-create":  # the contract's example does not add up
        body = invoice_body()
    elif operation_id == "invoices-v2-create":
        body = v2_body(invoice_body())
    elif operation_id == "credit-memos-create":  # its entitlement change needs a downgrade
        body["reason_code"] = "plan_downgrade"
    return method, path, body


@pytest.mark.parametrize("operation_id", sorted(REQUIRED - RELEASED_REQUIRED))
def test_the_contract_requires_the_key(operation_id: str) -> None:
    assert key_parameter(OPERATIONS[operation_id][2])["required"] is True


@pytest.mark.parametrize("operation_id", sorted(RELEASED_OPTIONAL | RELEASED_REQUIRED))
def test_released_operations_declare_the_key_as_released(operation_id: str) -> None:
    assert key_parameter(OPERATIONS[operation_id][2])["required"] is False


@pytest.mark.parametrize("operation_id", sorted(REQUIRED))
async def test_a_write_without_its_key_is_refused(gateway: Gateway, operation_id: str) -> None:
    method, path, body = example_request(operation_id)
    client = await gateway.client_with(SCOPES)
    response = await client.request(method, path, json=body)
    assert response.status_code == 400, response.text
    assert response.json()["type"] == PROBLEM_BASE_URI + "idempotency-key-required"


@pytest.mark.parametrize("operation_id", sorted(WRITES))
async def test_a_key_answers_once_and_refuses_another_request(
    gateway: Gateway, operation_id: str
) -> None:
    method, path, body = example_request(operation_id)
    client, headers = await gateway.client_with(SCOPES), {"Idempotency-Key": f"dup-{operation_id}"}
    first = await client.request(method, path, json=body, headers=headers)
    assert first.status_code not in (400, 403, 409, 500), first.text
    again = await client.request(method, path, json=body, headers=headers)
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    assert again.headers["idempotent-replayed"] == "true"
    WRITES[operation_id](body)
    other = await client.request(method, path, json=body, headers=headers)
    assert other.status_code == 422, other.text
    assert other.json()["type"] == PROBLEM_BASE_URI + "idempotency-key-reused"


async def invoice_count(gateway: Gateway) -> int:
    async with gateway.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(InvoiceRow)) or 0)


async def test_a_registration_sent_twice_is_one_invoice(gateway: Gateway) -> None:
    before = await invoice_count(gateway)
    headers = {"Idempotency-Key": "register-once"}
    first = await gateway.client.post("/v1/invoices", json=invoice_body(), headers=headers)
    again = await gateway.client.post("/v1/invoices", json=invoice_body(), headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["location"] == first.headers["location"]
    assert await invoice_count(gateway) == before + 1
