"""The canonical system APIs over HTTP: each needs its system scope (OWASP API5), and
each operation is one port call answered in the canonical shape."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest

from app.seed import demo_id
from sandboxes.demo_estate import DEMO_COMPANIES
from system_apis.errors import BackendBusinessError
from tests.conftest import Gateway, GatewayFactory
from tests.support.faults import switchable_backends

US = DEMO_COMPANIES[0].id
ACME, GLOBEX = demo_id("customer", 1), demo_id("customer", 2)
NORTHWIND = demo_id("partner", 1)

# One representative operation per system API: method, path, scope.
OPERATIONS = [
    ("GET", f"/system/erp/v1/companies/{US}/tax-codes", "system:erp"),
    ("GET", "/system/billing/v1/invoices", "system:billing"),
    (
        "GET",
        f"/system/crm/v1/partners/{NORTHWIND}/eligibility?customer_id={ACME}"
        f"&product_tier=pro&on={date.today()}",
        "system:crm",
    ),
    ("GET", f"/system/support/v1/customers/{ACME}/entitlements", "system:support"),
]


@pytest.fixture
async def internal(gateway: Gateway) -> httpx.AsyncClient:
    """A trusted internal caller holding every system scope."""
    scopes = ["system:erp", "system:billing", "system:crm", "system:support"]
    return await gateway.client_with(scopes, client_id="internal-caller")


@pytest.mark.parametrize(("method", "path", "scope"), OPERATIONS)
async def test_a_saas_client_is_refused_the_system_apis(
    gateway: Gateway, method: str, path: str, scope: str
) -> None:
    response = await gateway.client.request(method, path)
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert (problem["type"], problem["missing_scopes"]) == (
        "https://ledgergate.dev/problems/forbidden",
        [scope],
    )


@pytest.mark.parametrize(("method", "path", "scope"), OPERATIONS)
async def test_one_system_scope_opens_one_system_api(
    gateway: Gateway, method: str, path: str, scope: str
) -> None:
    holder = await gateway.client_with([scope], client_id=f"only-{scope.split(':')[1]}")
    assert (await holder.request(method, path)).status_code == 200
    for other_method, other_path, other_scope in OPERATIONS:
        if other_scope != scope:
            refused = await holder.request(other_method, other_path)
            assert refused.json()["missing_scopes"] == [other_scope]
    await holder.aclose()


async def test_erp_reference_data_and_customer_upsert(internal: httpx.AsyncClient) -> None:
    tax_codes = await internal.get(f"/system/erp/v1/companies/{US}/tax-codes")
    assert tax_codes.json() == {"tax_codes": sorted(DEMO_COMPANIES[0].tax_codes)}
    customer = {"number": "C-4242", "display_name": "Hooli", "currency": "USD"}
    upserted = await internal.post(f"/system/erp/v1/companies/{US}/customers", json=customer)
    assert upserted.status_code == 200
    assert upserted.json()["number"] == "C-4242"
    again = await internal.post(
        f"/system/erp/v1/companies/{US}/customers", json=customer | {"display_name": "Hooli Inc"}
    )
    assert (again.json()["id"], again.json()["display_name"]) == (
        upserted.json()["id"],
        "Hooli Inc",
    )
    found = await internal.get(
        f"/system/erp/v1/companies/{US}/sales-invoices",
        params={"external_document_number": "inv_unknown"},
    )
    assert (found.status_code, found.json()) == (200, [])
    unknown = await internal.get("/system/erp/v1/companies/00000000-0000-0000-0000-000000000000")
    assert unknown.status_code == 404  # an unknown id in the path, not a validation failure
    assert unknown.json()["type"] == "https://ledgergate.dev/problems/not-found"


async def test_request_bodies_refuse_unknown_fields(internal: httpx.AsyncClient) -> None:
    response = await internal.post(
        f"/system/erp/v1/companies/{US}/customers",
        json={"number": "C-1", "display_name": "X", "currency": "USD", "vip": True},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "#/vip"


async def test_billing_creates_are_keyed_downstream(internal: httpx.AsyncClient) -> None:
    body = {"reference": ACME, "name": "Acme Robotics Inc.", "currency": "USD"}
    missing_key = await internal.post("/system/billing/v1/customers", json=body)
    assert missing_key.status_code == 422
    assert missing_key.json()["errors"][0]["parameter"] == "Idempotency-Key"

    keyed = {"Idempotency-Key": "billing-acme-1"}
    created = await internal.post("/system/billing/v1/customers", json=body, headers=keyed)
    assert created.status_code == 201
    customer_id = created.json()["id"]
    assert created.headers["location"] == f"/system/billing/v1/customers/{customer_id}"
    replayed = await internal.post("/system/billing/v1/customers", json=body, headers=keyed)
    assert replayed.json()["id"] == customer_id  # Stripe replayed the keyed create

    fetched = await internal.get(f"/system/billing/v1/customers/{customer_id}")
    assert (fetched.json()["reference"], fetched.json()["currency"]) == (ACME, "USD")
    renamed = await internal.patch(
        f"/system/billing/v1/customers/{customer_id}",
        json={"name": "Acme Robotics Group", "email": "ap@acme.test"},
        headers={"Idempotency-Key": "billing-acme-2"},
    )
    assert (renamed.json()["name"], renamed.json()["email"]) == (
        "Acme Robotics Group",
        "ap@acme.test",
    )
    unknown = await internal.patch(
        f"/system/billing/v1/customers/{customer_id}",
        json={"name": "x", "currency": "EUR"},
        headers={"Idempotency-Key": "billing-acme-3"},
    )
    assert unknown.status_code == 422  # the reference and currency never change
    page = await internal.get("/system/billing/v1/invoices", params={"customer_id": customer_id})
    assert page.json() == {"invoices": [], "next_cursor": None}


async def test_crm_deal_registration_makes_a_partner_eligible(internal: httpx.AsyncClient) -> None:
    today = date.today()
    eligibility = f"/system/crm/v1/partners/{NORTHWIND}/eligibility"
    question = {"customer_id": GLOBEX, "product_tier": "pro", "on": today.isoformat()}
    before = (await internal.get(eligibility, params=question)).json()
    assert (before["eligible"], before["reason"]) == (False, "no_deal_registration")

    registration = {
        "partner_id": NORTHWIND,
        "customer_id": GLOBEX,
        "product_tiers": ["pro"],
        "expires_on": (today + timedelta(days=30)).isoformat(),
    }
    created = await internal.post(
        "/system/crm/v1/deal-registrations", json=registration, headers={"Idempotency-Key": "dr-1"}
    )
    assert (created.status_code, created.json()["status"]) == (201, "pending")
    decided = await internal.post(
        f"/system/crm/v1/deal-registrations/{created.json()['id']}/decision",
        json={"decision": "approve"},
    )
    assert decided.json()["status"] == "approved"
    after = (await internal.get(eligibility, params=question)).json()
    assert (after["eligible"], after["reason"], after["deal_registration_id"]) == (
        True,
        "eligible",
        created.json()["id"],
    )
    plan = await internal.get("/system/crm/v1/commission-plans/reseller-20")
    assert plan.json()["versions"][0]["rates"][0]["rate_bps"] == 2000


async def test_support_entitlement_routes_a_case_and_credits_it(
    internal: httpx.AsyncClient,
) -> None:
    granted = await internal.post(
        f"/system/support/v1/customers/{ACME}/entitlements",
        json={"product_id": demo_id("product", 1), "tier": "pro"},
        headers={"Idempotency-Key": "ent-1"},
    )
    assert (granted.status_code, granted.json()["tier"]) == (200, "pro")
    case = await internal.post(
        "/system/support/v1/cases",
        json={"customer_id": ACME, "subject": "Invoice total looks wrong"},
        headers={"Idempotency-Key": "case-1"},
    )
    assert (case.status_code, case.json()["priority"]) == (201, "P2")

    upgraded = await internal.patch(
        f"/system/support/v1/entitlements/{granted.json()['id']}", json={"tier": "enterprise"}
    )
    assert upgraded.json()["tier"] == "enterprise"
    credit = await internal.post(
        "/system/support/v1/service-credits",
        json={
            "case_id": case.json()["id"],
            "customer_id": ACME,
            "invoice_id": "inv_01jexample",
            "amount": 2500,
            "currency": "USD",
            "reason_code": "billing_error",
        },
        headers={"Idempotency-Key": "sc-1"},
    )
    assert (credit.status_code, credit.json()["status"], credit.json()["amount"]) == (
        201,
        "requested",
        2500,
    )
    listed = await internal.get(
        "/system/support/v1/service-credits", params={"case_id": case.json()["id"]}
    )
    assert [c["id"] for c in listed.json()] == [credit.json()["id"]]
    revoked = await internal.delete(f"/system/support/v1/entitlements/{granted.json()['id']}")
    assert revoked.json()["status"] == "revoked"


async def test_every_system_operation_declares_its_system_scope(gateway: Gateway) -> None:
    document = (await gateway.anonymous.get("/openapi.json")).json()
    system_paths = {p: item for p, item in document["paths"].items() if p.startswith("/system/")}
    assert {p.split("/")[2] for p in system_paths} == {"erp", "billing", "crm", "support"}
    for path, item in system_paths.items():
        expected = f"system:{path.split('/')[2]}"
        for operation in item.values():
            assert operation["security"] == [{"OAuth2": [expected]}], path
            assert operation["operationId"].startswith(f"system-{path.split('/')[2]}-")
            assert operation["summary"]
            assert operation["description"]
            assert "403" in operation["responses"]


async def test_idempotency_keys_are_namespaced_per_client(make_gateway: GatewayFactory) -> None:
    sent: list[str] = []

    def wrap(name: str, inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        class Recording(httpx.AsyncBaseTransport):
            async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
                if name == "billing" and "Idempotency-Key" in request.headers:
                    sent.append(request.headers["Idempotency-Key"])
                return await inner.handle_async_request(request)

        return Recording()

    gateway = await make_gateway(wrap=wrap)
    body = {"reference": ACME, "name": "Acme Robotics Inc.", "currency": "USD"}
    same_key = {"Idempotency-Key": "shared-key-1"}
    ids = []
    for caller in ("tenant-a", "tenant-b"):
        client = await gateway.client_with(["system:billing"], client_id=caller)
        created = await client.post("/system/billing/v1/customers", json=body, headers=same_key)
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    assert ids[0] != ids[1]  # neither got the other's replay
    assert len(set(sent)) == 2
    assert "shared-key-1" not in sent


async def test_a_backend_that_is_down_is_a_503_with_retry_after(
    make_gateway: GatewayFactory,
) -> None:
    switches, wrap = switchable_backends()

    gateway = await make_gateway(wrap=wrap)
    caller = await gateway.client_with(["system:erp"], client_id="internal-down")
    switches["erp"].down = True
    response = await caller.get(f"/system/erp/v1/companies/{US}/tax-codes")
    await caller.aclose()
    assert response.status_code == 503
    assert response.json()["type"] == "https://ledgergate.dev/problems/backend-unavailable"
    assert int(response.headers["retry-after"]) >= 1


async def test_a_vendors_error_text_stays_out_of_the_response(
    make_gateway: GatewayFactory,
) -> None:
    vendor_text = "Table 36 locked by SQL session 51 on host bc-prod-7"

    def refusing(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": {"code": "Internal_X", "message": vendor_text}})

    def wrap(name: str, inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        return httpx.MockTransport(refusing) if name == "erp" else inner

    gateway = await make_gateway(wrap=wrap)
    caller = await gateway.client_with(["system:erp"], client_id="internal-vendor-text")
    response = await caller.get(f"/system/erp/v1/companies/{US}/tax-codes")
    await caller.aclose()
    assert response.status_code == 422
    assert response.json()["type"] == "https://ledgergate.dev/problems/backend-rejected"
    assert vendor_text not in response.text
    assert response.json()["detail"] == "erp answered 400 to list_tax_codes"


def test_the_vendors_text_is_kept_for_the_run() -> None:
    error = BackendBusinessError(
        "erp answered 400 to post_invoice",
        backend="erp",
        operation="post_invoice",
        vendor_message="Posting date is not within your range of allowed posting dates",
    )
    assert error.detail == "erp answered 400 to post_invoice"
    assert str(error) == (  # what the engine stores as the run's error_detail
        "erp answered 400 to post_invoice: "
        "Posting date is not within your range of allowed posting dates"
    )
