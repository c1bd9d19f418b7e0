"""A simple route's parameters solved by its plan give FastAPI's answers, byte for byte:
the same 422 problems (body missing, empty, not JSON, invalid; path, header and query
values invalid), the same 415 and the same successful reads (`solved_routes.py`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import routing

from tests.conftest import Gateway

POSTING = "/v1/invoices/{invoice}/postings"
JSON = {"content-type": "application/json"}
KEY = {"Idempotency-Key": "solved-routes-key"}
VARYING = ("x-correlation-id", "date", "ratelimit")


def requests(invoice: str, legal_entity: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(method, url, httpx arguments) of answers both ways must give alike."""
    posting = POSTING.format(invoice=invoice)
    for url in (posting, POSTING.format(invoice="inv_not-an-id"), "/v1/invoices"):
        yield "POST", url, {"headers": JSON | KEY}  # no body
        yield "POST", url, {"headers": JSON | KEY, "content": b""}
        yield "POST", url, {"headers": JSON | KEY, "content": b'{"posting_date": '}
        yield "POST", url, {"headers": JSON | KEY, "content": b"[1, 2]"}
        yield "POST", url, {"headers": JSON | KEY, "json": {"posting_date": "soon", "x": 1}}
        yield "POST", url, {"headers": {"content-type": "text/plain"} | KEY, "content": b"{}"}
        yield "POST", url, {"headers": {"content-type": "application/merge-patch+json"} | KEY,
                            "content": b'{"posting_date": 3}'}  # fmt: skip
        yield "POST", url, {"headers": JSON, "json": {}}  # no Idempotency-Key
        yield "POST", url, {"headers": JSON | {"Idempotency-Key": ""}, "json": {}}
    schedules = "/ops/v1/revenue/schedules"
    yield "GET", schedules, {}
    yield "GET", schedules, {"params": {"legal_entity": "x", "period": "2026-13", "limit": "y"}}
    yield "GET", schedules, {"params": {"legal_entity": legal_entity, "period": "2026-01"}}
    yield "GET", f"/v1/invoices/{invoice}/revenue-schedule", {}


def comparable(response: httpx.Response) -> tuple[object, ...]:
    """The answer, less what differs between any two requests (correlation id, what is
    left of the client's rate limit)."""
    correlation = response.headers.get("x-correlation-id", "")
    headers = [(k, v) for k, v in response.headers.items() if k not in VARYING]
    return (response.status_code, headers, response.content.replace(correlation.encode(), b""))


@pytest.fixture
def solved(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times FastAPI's `solve_dependencies` ran for a route's handler."""
    calls: list[int] = []
    original = routing.solve_dependencies

    async def counted(**kwargs: Any) -> Any:
        calls.append(1)
        return await original(**kwargs)

    monkeypatch.setattr(routing, "solve_dependencies", counted)
    return calls


async def test_a_planned_route_answers_as_fastapi_does(gateway: Gateway, solved: list[int]) -> None:
    client = await gateway.client_with(
        ["invoices:read", "invoices:write", "invoices:post", "ops:read"]
    )
    entities = (await gateway.client.get("/v1/legal-entities")).json()
    created = await client.post(
        "/v1/invoices",
        json={
            "customer_id": "cus_00000000000000000000000001",
            "currency": "USD",
            "invoice_date": "2026-12-01",
            "due_date": "2026-12-01",
            "lines": [{"description": "Pro", "quantity": 1, "unit_amount": 100, "amount": 100,
                       "tax_code": "STANDARD", "tax_amount": 0}],
            "subtotal": 100, "tax_total": 0, "total": 100,
        },
    )  # fmt: skip
    assert created.status_code == 201, created.text
    cases = list(requests(created.json()["id"], entities[0]["id"]))
    solved.clear()
    planned = [comparable(await client.request(m, u, **kw)) for m, u, kw in cases]
    assert solved == []  # every one of these routes was planned
    # Any dependency override sends every request FastAPI's way.
    gateway.app.dependency_overrides[comparable] = comparable
    fastapi = [comparable(await client.request(m, u, **kw)) for m, u, kw in cases]
    for case, ours, theirs in zip(cases, planned, fastapi, strict=True):
        assert ours == theirs, case
    refused_before = [a for a in fastapi if a[0] == 415 or b"malformed-json" in a[2]]
    assert len(solved) == len(cases) - len(refused_before)
    assert {answer[0] for answer in planned} >= {200, 415, 422}
    await client.aclose()
