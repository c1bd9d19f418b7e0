"""OWASP API Security Top 10 (2023), scenario by scenario.

Covered in this module: API1 object-level authorization, API3 property-level
authorization, API4 resource consumption, API5 function-level authorization,
API7 SSRF, API8 misconfiguration, API10 unsafe consumption of backend APIs.
Covered where the feature lives: API2 broken authentication in
`tests/e2e/test_auth.py` (every broken-token case), rate limits (API4) in
`tests/e2e/test_rate_limits.py`, API6 sensitive business flows (one ERP document
however often or concurrently an invoice is posted) in
`tests/integration/test_invoice_posting.py`, API8 headers and CORS in
`tests/e2e/test_security_headers.py`, API9 inventory (deprecated operations flagged,
`/versions`) in `tests/e2e/test_versioning.py`.
"""

from typing import Any

import httpx
import pytest

from app.governance.auth.clients import create_client
from app.main import create_app
from app.seed import demo_id
from core.errors import PROBLEM_BASE_URI
from core.settings import Settings
from tests.conftest import Gateway, GatewayFactory
from tests.support.invoices import INITECH, US_COMPANY, invoice_body
from tests.support.production import PRODUCTION

NORTHWIND = demo_id("partner", 1)  # Acme (cus_..01) is attributed to Northwind
FABRIKAM = demo_id("partner", 2)  # Initech (cus_..03) is attributed to Fabrikam
ACME = demo_id("customer", 1)


def problem_type(response: httpx.Response) -> str:
    assert response.headers["content-type"] == "application/problem+json", response.text
    value: str = response.json()["type"]
    return value


async def partner_client(gateway: Gateway, partner: str) -> httpx.AsyncClient:
    return await gateway.client_with(
        ["partner:read"], client_id=f"portal-{partner[-2:]}", partner_id=partner
    )


# API1: broken object-level authorization


async def test_api1_a_partner_sees_only_its_own_customers_and_invoices(gateway: Gateway) -> None:
    acme_invoice = (await gateway.client.post("/v1/invoices", json=invoice_body())).json()["id"]
    initech_invoice = (
        await gateway.client.post("/v1/invoices", json=invoice_body(INITECH, currency="EUR"))
    ).json()["id"]
    northwind = await partner_client(gateway, NORTHWIND)
    fabrikam = await partner_client(gateway, FABRIKAM)

    listed = (await northwind.get("/partner/v1/customers")).json()["items"]
    assert [c["id"] for c in listed] == [ACME]
    assert (await northwind.get(f"/partner/v1/customers/{ACME}")).status_code == 200
    assert (await northwind.get(f"/partner/v1/invoices/{acme_invoice}")).status_code == 200
    invoices = (await northwind.get("/partner/v1/invoices")).json()["items"]
    assert [i["id"] for i in invoices] == [acme_invoice]

    for path in (f"/partner/v1/customers/{INITECH}", f"/partner/v1/invoices/{initech_invoice}"):
        response = await northwind.get(path)
        assert response.status_code == 404  # not 403: existence is not disclosed
        assert problem_type(response) == PROBLEM_BASE_URI + "not-found"
    assert (await fabrikam.get(f"/partner/v1/invoices/{acme_invoice}")).status_code == 404
    await northwind.aclose()
    await fabrikam.aclose()


async def test_api1_the_partner_api_needs_a_partner_bound_token(gateway: Gateway) -> None:
    unbound = await gateway.client_with(["partner:read"], client_id="unbound-portal")
    response = await unbound.get("/partner/v1/customers")
    assert response.status_code == 403
    assert problem_type(response) == PROBLEM_BASE_URI + "partner-binding-required"
    assert (await gateway.client.get("/partner/v1/customers")).status_code == 403
    await unbound.aclose()


# API3: broken object property-level authorization (mass assignment)


@pytest.mark.parametrize("field", ["id", "status", "version", "erp_ref", "refs", "created_at"])
async def test_api3_server_owned_customer_fields_are_refused(gateway: Gateway, field: str) -> None:
    body: dict[str, Any] = {
        "name": "Mallory Ltd",
        "email": "m@mallory.example",
        "legal_entity_id": demo_id("legal_entity", 1),
        "currency": "USD",
        field: "x",
    }
    response = await gateway.client.post(
        "/v1/customers", json=body, headers={"Idempotency-Key": f"mass-{field}"}
    )
    assert response.status_code == 422
    assert {"pointer": f"#/{field}"}.items() <= response.json()["errors"][0].items()


@pytest.mark.parametrize("field", ["id", "status", "partner_id", "legal_entity_id", "posted_at"])
async def test_api3_server_owned_invoice_fields_are_refused(gateway: Gateway, field: str) -> None:
    response = await gateway.client.post("/v1/invoices", json=invoice_body() | {field: "x"})
    assert response.status_code == 422
    invoice_id = (await gateway.client.post("/v1/invoices", json=invoice_body())).json()["id"]
    posting = await gateway.client.post(
        f"/v1/invoices/{invoice_id}/postings",
        json={field: "x"},
        headers={"Idempotency-Key": f"mass-{field}"},
    )
    assert posting.status_code == 422


# API4: unrestricted resource consumption


async def test_api4_page_sizes_are_capped(gateway: Gateway) -> None:
    northwind = await partner_client(gateway, NORTHWIND)
    assert (await northwind.get("/partner/v1/customers", params={"limit": 201})).status_code == 422
    assert (await northwind.get("/partner/v1/customers", params={"limit": 200})).status_code == 200
    await northwind.aclose()


async def test_api4_deeply_nested_json_is_refused(gateway: Gateway) -> None:
    deep = b'{"name": ' + b"[" * 100 + b"]" * 100 + b"}"
    response = await gateway.client.post(
        "/v1/customers", content=deep, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert problem_type(response) == PROBLEM_BASE_URI + "json-too-deep"


async def test_api4_overlong_strings_and_lists_are_refused(gateway: Gateway) -> None:
    body = invoice_body()
    body["lines"] = body["lines"] * 300  # 600 lines, over the cap of 500
    assert (await gateway.client.post("/v1/invoices", json=body)).status_code == 422
    long_name = {
        "name": "x" * 20_000,
        "email": "a@b.example",
        "legal_entity_id": demo_id("legal_entity", 1),
        "currency": "USD",
    }
    keyed = {"Idempotency-Key": "long"}
    assert (
        await gateway.client.post("/v1/customers", json=long_name, headers=keyed)
    ).status_code == 422


async def test_api4_a_body_over_the_limit_is_refused(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway(max_body_bytes=4096)
    response = await gateway.client.post(
        "/v1/invoices", content=b" " * 5000, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


# API5: broken function-level authorization


@pytest.mark.parametrize("path", ["/ops/v1/audit"])
async def test_api5_a_saas_client_cannot_call_operations_apis(gateway: Gateway, path: str) -> None:
    response = await gateway.client.get(path)
    assert response.status_code == 403
    assert problem_type(response) == PROBLEM_BASE_URI + "forbidden"


async def test_api5_a_partner_token_cannot_call_the_platform_apis(gateway: Gateway) -> None:
    northwind = await partner_client(gateway, NORTHWIND)
    assert (await northwind.get("/v1/legal-entities")).status_code == 403
    assert (await northwind.post("/v1/invoices", json=invoice_body())).status_code == 403
    await northwind.aclose()


async def test_api5_money_limits_stop_large_financial_actions(gateway: Gateway) -> None:
    async with gateway.sessionmaker() as session:
        await create_client(
            session,
            name="small",
            client_id="small-poster",
            scopes=["invoices:write", "invoices:post", "invoices:read"],
            money_limits={"invoices:post": {"USD": 1000}},
        )
        await session.commit()
    small = await gateway.client_with(["invoices:write", "invoices:post"], client_id="small-poster")
    invoice_id = (await small.post("/v1/invoices", json=invoice_body())).json()["id"]
    response = await small.post(
        f"/v1/invoices/{invoice_id}/postings", json={}, headers={"Idempotency-Key": "too-big"}
    )
    assert response.status_code == 403
    assert problem_type(response) == PROBLEM_BASE_URI + "money-limit-exceeded"
    assert gateway.backends.erp_sandbox is not None
    assert gateway.backends.erp_sandbox.posted_invoices(US_COMPANY) == []
    await small.aclose()


# API7: server-side request forgery


# The one URL a caller sends: where its webhooks go, held to public addresses by the SSRF
# guard at creation and at every delivery (tests/integration/test_webhooks.py).
WEBHOOK_URL_OPERATIONS = {
    ("post", "/v1/webhook-endpoints"),
    ("post", "/partner/v1/webhook-endpoints"),
}


async def test_api7_no_operation_accepts_a_url_to_fetch(gateway: Gateway) -> None:
    """Backends and identity providers are configured by operators only; callers send no URLs
    but their own webhook endpoints'."""
    document = (await gateway.anonymous.get("/openapi.json")).json()

    def url_like(schema: Any, name: str = "") -> bool:
        if isinstance(schema, dict):
            if schema.get("format") in ("uri", "url", "iri") or name.endswith(("url", "uri")):
                return True
            return any(url_like(v, k) for k, v in schema.items() if isinstance(v, dict | list))
        if isinstance(schema, list):
            return any(url_like(v) for v in schema)
        return False

    for path, item in document["paths"].items():
        for method, operation in item.items():
            if (method, path) in WEBHOOK_URL_OPERATIONS:
                continue
            inputs = [
                p.get("schema", {}) | {"_": p["name"]} for p in operation.get("parameters", [])
            ]
            body = operation.get("requestBody", {}).get("content", {})
            inputs += [media.get("schema", {}) for media in body.values()]
            components = document["components"]["schemas"]
            resolved = [
                components[s["$ref"].rsplit("/", 1)[-1]] if "$ref" in s else s for s in inputs
            ]
            assert not any(url_like(s) for s in resolved), f"{method.upper()} {path} takes a URL"


# API8: security misconfiguration


async def test_api8_production_serves_no_interactive_docs() -> None:
    settings = Settings(_env_file=None, **PRODUCTION)  # type: ignore[arg-type]
    app = create_app(settings)
    paths = {getattr(route, "path", None) for route in app.routes}
    assert not paths & {"/docs", "/redoc", "/openapi.json"}


# API10: unsafe consumption of APIs


class GarbageErp(httpx.AsyncBaseTransport):
    """An ERP that answers every call with a body outside its contract."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"value": [{"id": 42, "unexpected": True}]})


async def test_api10_a_backend_answering_outside_its_contract_never_posts(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway(wrap=lambda name, inner: GarbageErp() if name == "erp" else inner)
    invoice_id = (await gateway.client.post("/v1/invoices", json=invoice_body())).json()["id"]
    response = await gateway.client.post(
        f"/v1/invoices/{invoice_id}/postings", json={}, headers={"Idempotency-Key": "garbage"}
    )
    assert response.status_code == 502
    assert problem_type(response) == PROBLEM_BASE_URI + "backend-contract-violation"
    run = (await gateway.client.get(response.json()["run_url"])).json()
    assert (run["status"], run["error_class"]) == ("failed", "contract")
    invoice = (await gateway.client.get(f"/v1/invoices/{invoice_id}")).json()
    assert invoice["status"] != "posted"
