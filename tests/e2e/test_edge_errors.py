"""Every error the edge returns is RFC 9457 problem+json with a stable type and correlation id."""

from collections.abc import AsyncIterator
from typing import Any

import pytest

from core.errors import PROBLEM_BASE_URI
from tests.conftest import Gateway

PROBLEM = "application/problem+json"


def assert_problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["type"] == PROBLEM_BASE_URI + slug
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    assert body["instance"] == response.request.url.path
    assert body["correlation_id"] == response.headers["x-correlation-id"]
    return body


async def test_unknown_route_is_a_404_problem(gateway: Gateway) -> None:
    assert_problem(await gateway.client.get("/v1/nothing-here"), 404, "not-found")


async def test_unknown_object_is_a_404_problem(gateway: Gateway) -> None:
    response = await gateway.client.get("/v1/invoices/inv_01jd0000000000000000000000")
    assert "inv_01jd0000000000000000000000" in assert_problem(response, 404, "not-found")["detail"]


async def test_wrong_method_is_a_405_problem_listing_every_allowed_method(
    gateway: Gateway,
) -> None:
    response = await gateway.client.delete("/v1/legal-entities")
    assert_problem(response, 405, "method-not-allowed")
    assert response.headers["allow"] == "GET"
    both = await gateway.client.delete("/v1/invoices")
    assert both.headers["allow"] == "GET, POST"
    assert gateway.app.openapi_schema is None  # read off the routes: no 16 MiB document


async def test_invalid_fields_are_listed_with_json_pointers(gateway: Gateway) -> None:
    response = await gateway.client.post(
        "/v1/customers",
        json={
            "name": "",
            "email": "not-an-email",
            "legal_entity_id": "le_x",
            "currency": "usd",
            "status": "active",
        },
        headers={"Idempotency-Key": "edge-invalid-fields"},
    )
    body = assert_problem(response, 422, "validation-error")
    pointers = {error["pointer"] for error in body["errors"]}
    assert {"#/name", "#/email", "#/currency", "#/status"} <= pointers


async def test_a_bad_path_parameter_names_the_parameter(gateway: Gateway) -> None:
    body = assert_problem(
        await gateway.client.get("/v1/invoices/not-an-id"), 422, "validation-error"
    )
    assert body["errors"][0]["parameter"] == "invoice_id"
    assert body["errors"][0]["in"] == "path"


@pytest.mark.parametrize(
    "query",
    [
        "until=2026-01-01T00:00:00Z&until=2026-02-01T00:00:00Z",
        "limit=5&status=posted&limit=6",
    ],
)
async def test_a_single_valued_query_parameter_sent_twice_is_refused(
    gateway: Gateway, query: str
) -> None:
    """The last value would otherwise win: a request outside the contract served as
    if it were inside it."""
    path = "/ops/v1/events" if query.startswith("until") else "/v1/invoices"
    body = assert_problem(await gateway.client.get(f"{path}?{query}"), 422, "validation-error")
    [error] = body["errors"]
    assert (error["in"], error["code"]) == ("query", "repeated")
    assert error["parameter"] in {"until", "limit"}
    assert gateway.app.openapi_schema is None  # read off the route: no 16 MiB document


async def test_distinct_query_parameters_are_served(gateway: Gateway) -> None:
    response = await gateway.client.get("/v1/invoices?limit=5&status=posted")
    assert response.status_code == 200, response.text


async def test_malformed_json_is_a_400_problem(gateway: Gateway) -> None:
    response = await gateway.client.post(
        "/v1/customers", content=b'{"name": ', headers={"content-type": "application/json"}
    )
    assert_problem(response, 400, "malformed-json")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
async def test_a_body_that_is_not_json_is_a_415_problem(
    gateway: Gateway, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = await gateway.client.post("/v1/customers", content=b"name=x", headers=headers)
    assert_problem(response, 415, "unsupported-media-type")


async def test_a_declared_oversized_body_is_refused_before_reading(make_gateway: Any) -> None:
    gateway = await make_gateway(max_body_bytes=2048)
    response = await gateway.client.post(
        "/v1/customers", content=b"x" * 4096, headers={"content-type": "application/json"}
    )
    assert_problem(response, 413, "payload-too-large")


async def test_an_oversized_chunked_body_is_cut_off_while_streaming(make_gateway: Any) -> None:
    gateway = await make_gateway(max_body_bytes=2048)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"[" * 512

    response = await gateway.client.post(
        "/v1/customers", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert_problem(response, 413, "payload-too-large")


async def test_an_unexpected_failure_is_a_500_problem_without_internals(gateway: Gateway) -> None:
    @gateway.app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("database password is hunter2")

    response = await gateway.client.get("/boom")
    body = assert_problem(response, 500, "internal-error")
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
    assert body["correlation_id"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert (
        response.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    )
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    "accept", ["text/csv", "application/xml, text/html", "application/json;q=0"]
)
async def test_an_accept_without_json_is_a_406_problem(gateway: Gateway, accept: str) -> None:
    response = await gateway.client.get("/v1/legal-entities", headers={"Accept": accept})
    assert_problem(response, 406, "not-acceptable")


@pytest.mark.parametrize(
    "accept",
    ["application/json", "application/problem+json", "*/*", "text/html, application/*;q=0.5"],
)
async def test_an_accept_that_takes_json_is_served(gateway: Gateway, accept: str) -> None:
    response = await gateway.client.get("/v1/legal-entities", headers={"Accept": accept})
    assert response.status_code == 200


async def test_a_valid_correlation_id_is_echoed(gateway: Gateway) -> None:
    response = await gateway.client.get("/healthz", headers={"X-Correlation-ID": "order-123.A:b"})
    assert response.headers["x-correlation-id"] == "order-123.A:b"


@pytest.mark.parametrize("value", ["has spaces", "x" * 200, "<script>", ""])
async def test_an_invalid_correlation_id_is_replaced(gateway: Gateway, value: str) -> None:
    response = await gateway.client.get("/healthz", headers={"X-Correlation-ID": value})
    minted = response.headers["x-correlation-id"]
    assert minted != value
    assert len(minted) == 36


async def test_a_missing_correlation_id_is_minted_per_request(gateway: Gateway) -> None:
    first = await gateway.client.get("/healthz")
    second = await gateway.client.get("/healthz")
    assert first.headers["x-correlation-id"] != second.headers["x-correlation-id"]


async def test_a_trailing_slash_is_not_redirected_to_the_host_header(gateway: Gateway) -> None:
    response = await gateway.client.get(
        "/v1/legal-entities/", headers={"Host": "evil.example"}, follow_redirects=False
    )
    assert "location" not in response.headers
    assert_problem(response, 404, "not-found")
