"""Order → subscription, amendments and cancellation across billing, ERP, CRM and support,
on SQLite and PostgreSQL: every test asserts the sandboxes' state, not only the answers."""

import time
from datetime import date, timedelta
from typing import Any

import httpx

from app.seed import demo_id
from core.errors import PROBLEM_BASE_URI
from process_apis.worker import replayer
from sandboxes.stripe import StripeState
from sandboxes.stripe.state import ManualClock
from sandboxes.support import DeskState
from tests.conftest import Gateway, GatewayFactory
from tests.support.faults import switchable_backends
from tests.support.invoices import ACME, INITECH, US_COMPANY

GLOBEX = demo_id("customer", 2)
FABRIKAM = demo_id("partner", 2)
PRO, ENTERPRISE = demo_id("product", 1), demo_id("product", 2)
PRO_USD, PRO_EUR, ENTERPRISE_USD = demo_id("price", 11), demo_id("price", 12), demo_id("price", 21)
PRO_FEATURES = ["api_access", "priority_support", "webhooks"]
ENTERPRISE_FEATURES = ["api_access", "audit_log_export", "premium_support", "sso", "webhooks"]


async def order(gateway: Gateway, key: str, **body: Any) -> httpx.Response:
    body = {"customer_id": ACME, "price_id": PRO_USD, "quantity": 2, **body}
    return await gateway.client.post(
        "/v1/subscriptions", json=body, headers={"Idempotency-Key": key}
    )


async def ordered(gateway: Gateway, key: str = "order-1", **body: Any) -> dict[str, Any]:
    response = await order(gateway, key, **body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def amend(gateway: Gateway, subscription_id: str, key: str, **body: Any) -> httpx.Response:
    return await gateway.client.post(
        f"/v1/subscriptions/{subscription_id}/amendments",
        json=body,
        headers={"Idempotency-Key": key},
    )


def billing(gateway: Gateway) -> StripeState:
    assert gateway.backends.billing_sandbox is not None
    return gateway.backends.billing_sandbox


def desk(gateway: Gateway) -> DeskState:
    assert gateway.backends.support_sandbox is not None
    return gateway.backends.support_sandbox


def desk_entitlements(gateway: Gateway, customer_id: str) -> dict[str, tuple[str, str]]:
    """product → (tier, state) of the customer's entitlements in the support desk."""
    return {
        e.product_ref: (e.tier, "active" if e.active else "revoked")
        for e in desk(gateway).entitlements.values()
        if e.customer_ref == customer_id
    }


def erp_adjustments(gateway: Gateway, amendment_id: str) -> tuple[int, int]:
    """(sales invoices, credit memos) the ERP holds for the amendment."""
    erp = gateway.backends.erp_sandbox
    assert erp is not None
    return (
        erp.document_count(US_COMPANY, amendment_id),
        erp.credit_memo_count(US_COMPANY, amendment_id),
    )


async def with_switch(make_gateway: GatewayFactory) -> tuple[Gateway, dict[str, Any]]:
    switches, wrap = switchable_backends()

    return await make_gateway(wrap=wrap), switches  # type: ignore[return-value]


async def test_an_order_activates_the_subscription_in_every_backend(gateway: Gateway) -> None:
    result = await ordered(gateway)
    subscription = result["subscription"]
    assert subscription["status"] == "active"
    assert (subscription["product_id"], subscription["tier"]) == (PRO, "pro")
    assert subscription["partner_id"] == demo_id("partner", 1)  # attributed to the customer
    assert subscription["refs"]["crm"] == "DR-000001"  # the deal registration that qualified
    assert result["run"]["state"] == "completed"
    assert sorted(e["feature"] for e in result["entitlements"]) == PRO_FEATURES

    stripe = billing(gateway)
    held = stripe.subscriptions[subscription["refs"]["billing"]]
    assert held["status"] == "active"
    assert held["metadata"]["ledgergate_id"] == subscription["id"]
    [item] = held["items"]["data"]
    assert (item["price"]["metadata"]["ledgergate_id"], item["quantity"]) == (PRO_USD, 2)
    assert stripe.customers[held["customer"]]["metadata"]["ledgergate_id"] == ACME
    assert subscription["current_period_start"] is not None

    customer = (await gateway.client.get(f"/v1/customers/{ACME}")).json()
    assert customer["refs"]["billing"] == held["customer"]
    assert gateway.backends.erp_sandbox is not None
    book = gateway.backends.erp_sandbox.books[US_COMPANY]
    assert customer["erp_number"] in {c.number for c in book.customers.values()}
    assert desk_entitlements(gateway, ACME) == {PRO: ("pro", "active")}

    run = (await gateway.client.get(result["run"]["run_url"])).json()
    assert [s["name"] for s in run["steps"]] == [
        "check_partner_eligibility",
        "create_billing_customer",
        "create_billing_product",
        "create_billing_price",
        "create_billing_subscription",
        "upsert_erp_customer",
        "sync_support_entitlements",
    ]
    got = (await gateway.client.get(f"/v1/subscriptions/{subscription['id']}")).json()
    assert got["status"] == "active"
    assert got["last_run"]["id"] == result["run"]["run_id"]


async def test_later_orders_reuse_the_billing_customer_product_and_price(
    gateway: Gateway,
) -> None:
    first = await ordered(gateway, "order-1")
    second = await ordered(gateway, "order-2", customer_id=GLOBEX, quantity=1)
    third = await ordered(gateway, "order-3", quantity=5)
    stripe = billing(gateway)
    assert len(stripe.products) == 1
    assert len(stripe.prices) == 1
    assert len(stripe.customers) == 2
    assert len(stripe.subscriptions) == 3
    run = (await gateway.client.get(third["run"]["run_url"])).json()
    assert "create_billing_customer" not in [s["name"] for s in run["steps"]]
    assert second["subscription"]["partner_id"] is None
    assert first["subscription"]["refs"]["billing"] != third["subscription"]["refs"]["billing"]
    assert desk_entitlements(gateway, GLOBEX) == {PRO: ("pro", "active")}


async def test_the_same_key_replays_the_order_and_makes_one_subscription(
    gateway: Gateway,
) -> None:
    first = await order(gateway, "order-1")
    again = await order(gateway, "order-1")
    assert again.status_code == first.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    reused = await order(gateway, "order-1", quantity=9)
    assert reused.status_code == 422
    assert reused.json()["type"] == PROBLEM_BASE_URI + "idempotency-key-reused"
    assert len(billing(gateway).subscriptions) == 1


async def test_a_partner_without_a_deal_registration_is_refused(gateway: Gateway) -> None:
    response = await order(gateway, "order-1", customer_id=GLOBEX, partner_id=FABRIKAM)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"] == PROBLEM_BASE_URI + "partner-not-eligible"
    assert problem["reason"] == "no_deal_registration"
    run = (await gateway.client.get(problem["run_url"])).json()
    assert (run["status"], run["error_class"]) == ("rejected", "business")  # answered, not queued
    subscription = await gateway.client.get(f"/v1/subscriptions/{problem['subscription_id']}")
    assert subscription.json()["status"] == "canceled"
    assert billing(gateway).subscriptions == {}
    assert billing(gateway).customers == {}
    assert desk_entitlements(gateway, GLOBEX) == {}


async def test_an_expired_deal_registration_refuses_with_the_crm_reason(gateway: Gateway) -> None:
    crm = gateway.backends.crm_sandbox
    assert crm is not None
    crm.registrations["DR-000001"].expires_on = date.today() - timedelta(days=1)
    response = await order(gateway, "order-1")
    assert response.status_code == 422, response.text
    assert response.json()["reason"] == "deal_registration_expired"
    assert response.json()["deal_registration_id"] == "DR-000001"
    assert billing(gateway).subscriptions == {}


async def test_discarding_a_queued_order_cancels_the_subscription(
    make_gateway: GatewayFactory,
) -> None:
    gateway, switches = await with_switch(make_gateway)
    switches["billing"].down = True
    queued = await order(gateway, "order-1")
    assert queued.status_code == 202, queued.text
    switches["billing"].down = False
    run_id = queued.json()["run"]["run_id"]
    ops = await gateway.client_with(["ops:read", "ops:write"], client_id="finance-ops")
    closed = await ops.post(
        f"/ops/v1/exceptions/{run_id}/discard", json={"note": "ordered by mistake"}
    )
    assert closed.status_code == 200, closed.text
    await ops.aclose()
    report = await replayer(gateway.app.state.process).run_once()
    assert report.outcomes == {"succeeded": 1}  # the queued compensation
    subscription_id = queued.json()["subscription"]["id"]
    subscription = await gateway.client.get(f"/v1/subscriptions/{subscription_id}")
    assert subscription.json()["status"] == "canceled"
    assert subscription.json()["last_run"]["workflow"] == "subscription_cancel"


async def test_local_rules_refuse_an_order_before_any_backend(gateway: Gateway) -> None:
    mismatch = await order(gateway, "order-1", price_id=PRO_EUR)
    assert mismatch.status_code == 422
    assert mismatch.json()["type"] == PROBLEM_BASE_URI + "price-currency-mismatch"
    blocked = await gateway.client.patch(
        f"/v1/customers/{GLOBEX}", json={"status": "blocked"}, headers={"Idempotency-Key": "b"}
    )
    assert blocked.status_code == 200, blocked.text
    refused = await order(gateway, "order-2", customer_id=GLOBEX)
    assert refused.json()["type"] == PROBLEM_BASE_URI + "customer-not-active"
    unknown = await order(gateway, "order-3", price_id=demo_id("price", 99))
    assert unknown.json()["type"] == PROBLEM_BASE_URI + "unknown-reference"
    assert billing(gateway).subscriptions == {}


async def test_an_unreachable_billing_queues_the_order_and_a_replay_completes_it(
    make_gateway: GatewayFactory,
) -> None:
    gateway, switches = await with_switch(make_gateway)
    switches["billing"].down = True
    response = await order(gateway, "order-1", customer_id=INITECH, price_id=PRO_EUR)
    assert response.status_code == 202, response.text
    result = response.json()
    assert result["run"]["state"] == "pending_retry"
    assert response.headers["location"] == result["run"]["run_url"]
    assert result["subscription"]["status"] == "pending"
    assert result["entitlements"] == []
    assert desk_entitlements(gateway, INITECH) == {}

    switches["billing"].down = False
    status = await replayer(gateway.app.state.process).replay(result["run"]["run_id"])
    assert status == "succeeded"
    got = (await gateway.client.get(f"/v1/subscriptions/{result['subscription']['id']}")).json()
    assert got["status"] == "active"
    assert got["refs"]["crm"] == "DR-000002"
    assert len(billing(gateway).subscriptions) == 1
    assert desk_entitlements(gateway, INITECH) == {PRO: ("pro", "active")}
    entitlements = (await gateway.client.get(f"/v1/customers/{INITECH}/entitlements")).json()
    assert sorted(e["feature"] for e in entitlements["entitlements"]) == PRO_FEATURES


async def test_a_preview_quotes_the_proration_and_changes_nothing(gateway: Gateway) -> None:
    subscription = (await ordered(gateway))["subscription"]
    before = billing(gateway).subscriptions[subscription["refs"]["billing"]]["items"]
    response = await gateway.client.post(
        f"/v1/subscriptions/{subscription['id']}/amendments/preview",
        json={"price_id": ENTERPRISE_USD},
    )
    assert response.status_code == 200, response.text
    preview = response.json()
    assert preview["currency"] == "USD"
    assert preview["total"] == sum(line["amount"] for line in preview["lines"])
    assert preview["total"] > 0
    assert preview["erp_adjustment"] == "sales_invoice"
    assert billing(gateway).subscriptions[subscription["refs"]["billing"]]["items"] == before
    assert not any(i["proration"] for i in billing(gateway).invoice_items.values())
    assert desk_entitlements(gateway, ACME) == {PRO: ("pro", "active")}
    unchanged = await gateway.client.post(
        f"/v1/subscriptions/{subscription['id']}/amendments/preview", json={"quantity": 2}
    )
    assert unchanged.json()["type"] == PROBLEM_BASE_URI + "amendment-changes-nothing"


async def test_a_downgrade_posts_a_credit_memo_and_reduces_the_entitlements(
    gateway: Gateway,
) -> None:
    subscription = (await ordered(gateway, price_id=ENTERPRISE_USD))["subscription"]
    assert desk_entitlements(gateway, ACME) == {ENTERPRISE: ("enterprise", "active")}
    response = await amend(gateway, subscription["id"], "down-1", price_id=PRO_USD)
    assert response.status_code == 201, response.text
    result = response.json()
    assert result["proration"]["total"] < 0
    adjustment = result["erp_adjustment"]
    assert adjustment["kind"] == "credit_memo"
    assert adjustment["amount"] == -result["proration"]["total"]
    assert erp_adjustments(gateway, result["amendment_id"]) == (0, 1)
    memo = await gateway.backends.erp.find_sales_credit_memo(US_COMPANY, result["amendment_id"])
    assert memo is not None
    assert (memo.status, memo.total_excluding_tax) == ("posted", adjustment["amount"])
    assert (memo.total_tax, memo.total_including_tax) == (0, adjustment["amount"])  # untaxed
    assert desk_entitlements(gateway, ACME) == {
        ENTERPRISE: ("enterprise", "revoked"),
        PRO: ("pro", "active"),
    }
    assert sorted(e["feature"] for e in result["entitlements"]) == PRO_FEATURES
    assert result["subscription"]["price_id"] == PRO_USD
    [item] = billing(gateway).subscriptions[subscription["refs"]["billing"]]["items"]["data"]
    assert item["price"]["metadata"]["ledgergate_id"] == PRO_USD
    revoked = (await gateway.client.get(f"/v1/customers/{ACME}/entitlements?status=revoked")).json()
    assert {e["feature"] for e in revoked["entitlements"]} == {
        "audit_log_export",
        "premium_support",
        "sso",
    }


async def test_more_seats_post_a_sales_invoice_once_per_amendment(gateway: Gateway) -> None:
    subscription = (await ordered(gateway))["subscription"]
    first = await amend(gateway, subscription["id"], "seats-1", quantity=5)
    again = await amend(gateway, subscription["id"], "seats-1", quantity=5)
    assert first.status_code == again.status_code == 201, first.text
    assert again.headers["idempotent-replayed"] == "true"
    result = first.json()
    assert result["erp_adjustment"]["kind"] == "sales_invoice"
    assert erp_adjustments(gateway, result["amendment_id"]) == (1, 0)
    invoice = await gateway.backends.erp.find_sales_invoice(US_COMPANY, result["amendment_id"])
    assert invoice is not None
    assert invoice.total_excluding_tax == result["proration"]["total"]
    assert result["subscription"]["quantity"] == 5
    assert desk_entitlements(gateway, ACME) == {PRO: ("pro", "active")}
    nothing = await amend(gateway, subscription["id"], "seats-2", quantity=5)
    assert nothing.json()["type"] == PROBLEM_BASE_URI + "amendment-changes-nothing"


async def test_an_unreachable_erp_queues_the_amendment_and_a_replay_completes_it(
    make_gateway: GatewayFactory,
) -> None:
    gateway, switches = await with_switch(make_gateway)
    subscription = (await ordered(gateway))["subscription"]
    switches["erp"].down = True
    response = await amend(gateway, subscription["id"], "up-1", price_id=ENTERPRISE_USD)
    assert response.status_code == 202, response.text
    queued = response.json()
    assert queued["proration"]["total"] > 0  # quoted before the ERP was needed
    assert queued["subscription"]["price_id"] == PRO_USD
    blocked = await amend(gateway, subscription["id"], "up-2", quantity=3)
    assert blocked.status_code == 409
    assert blocked.json()["type"] == PROBLEM_BASE_URI + "subscription-change-pending"

    switches["erp"].down = False
    status = await replayer(gateway.app.state.process).replay(queued["amendment_id"])
    assert status == "succeeded"
    assert erp_adjustments(gateway, queued["amendment_id"]) == (1, 0)
    invoice = await gateway.backends.erp.find_sales_invoice(US_COMPANY, queued["amendment_id"])
    assert invoice is not None
    assert invoice.total_excluding_tax == queued["proration"]["total"]  # the quote, not a new one
    got = (await gateway.client.get(f"/v1/subscriptions/{subscription['id']}")).json()
    assert (got["price_id"], got["tier"]) == (ENTERPRISE_USD, "enterprise")
    assert desk_entitlements(gateway, ACME)[ENTERPRISE] == ("enterprise", "active")


async def test_a_cancellation_ends_billing_and_revokes_the_entitlements(gateway: Gateway) -> None:
    subscription = (await ordered(gateway))["subscription"]
    path = f"/v1/subscriptions/{subscription['id']}/cancel"
    response = await gateway.client.post(path, json={}, headers={"Idempotency-Key": "c-1"})
    assert response.status_code == 200, response.text
    assert response.json()["subscription"]["status"] == "canceled"
    assert response.json()["entitlements"] == []
    assert billing(gateway).subscriptions[subscription["refs"]["billing"]]["status"] == "canceled"
    assert desk_entitlements(gateway, ACME) == {PRO: ("pro", "revoked")}
    again = await gateway.client.post(path, json={}, headers={"Idempotency-Key": "c-2"})
    assert again.status_code == 200
    assert again.json()["already_canceled"] is True
    amended = await amend(gateway, subscription["id"], "late", quantity=3)
    assert amended.json()["type"] == PROBLEM_BASE_URI + "subscription-not-active"


async def test_cancelling_one_of_two_subscriptions_keeps_the_shared_tier(gateway: Gateway) -> None:
    first = (await ordered(gateway, "order-1"))["subscription"]
    await ordered(gateway, "order-2", quantity=1)
    path = f"/v1/subscriptions/{first['id']}/cancel"
    response = await gateway.client.post(path, json={}, headers={"Idempotency-Key": "c-1"})
    assert response.status_code == 200, response.text
    assert desk_entitlements(gateway, ACME) == {PRO: ("pro", "active")}


async def test_without_proration_billing_changes_and_the_erp_gets_nothing(
    gateway: Gateway,
) -> None:
    subscription = (await ordered(gateway))["subscription"]
    response = await amend(
        gateway,
        subscription["id"],
        "up-1",
        price_id=ENTERPRISE_USD,
        proration_behavior="none",
    )
    assert response.status_code == 201, response.text
    result = response.json()
    assert (result["proration"]["total"], result["erp_adjustment"]) == (0, None)
    assert erp_adjustments(gateway, result["amendment_id"]) == (0, 0)
    [item] = billing(gateway).subscriptions[subscription["refs"]["billing"]]["items"]["data"]
    assert item["price"]["metadata"]["ledgergate_id"] == ENTERPRISE_USD
    assert desk_entitlements(gateway, ACME)[ENTERPRISE] == ("enterprise", "active")


async def test_a_resync_repairs_the_desk_and_a_second_finds_nothing_to_do(
    make_gateway: GatewayFactory,
) -> None:
    gateway, switches = await with_switch(make_gateway)
    await ordered(gateway)
    [held] = desk(gateway).entitlements.values()
    held.revoked_at = held.granted_at  # revoked in the desk by hand: drift
    switches["support"].down = True
    path = f"/v1/customers/{ACME}/entitlements/resync"
    queued = await gateway.client.post(path)
    assert queued.status_code == 202, queued.text
    assert queued.json()["support"] == []
    switches["support"].down = False
    status = await replayer(gateway.app.state.process).replay(queued.json()["run"]["run_id"])
    assert status == "succeeded"
    states = sorted((e.product_ref, e.active) for e in desk(gateway).entitlements.values())
    assert states == [(PRO, False), (PRO, True)]  # the drifted one stays revoked; a new grant
    again = await gateway.client.post(path)
    assert again.status_code == 200, again.text
    assert [(e["product_id"], e["tier"]) for e in again.json()["support"]] == [(PRO, "pro")]
    run = (await gateway.client.get(again.json()["run"]["run_url"])).json()
    assert (run["result"]["granted"], run["result"]["revoked"]) == ([], [])
    assert len(desk(gateway).entitlements) == 2
    unknown = await gateway.client.post(
        f"/v1/customers/{demo_id('customer', 9)}/entitlements/resync"
    )
    assert unknown.status_code == 404


async def test_an_amendment_books_in_the_erp_the_untaxed_amount_billing_charged(
    gateway: Gateway,
) -> None:
    """Billing charged no tax on the proration: the ERP must not add its own (STANDARD)."""
    subscription = (await ordered(gateway))["subscription"]
    response = await amend(gateway, subscription["id"], "up-untaxed", price_id=ENTERPRISE_USD)
    assert response.status_code == 201, response.text
    result = response.json()
    invoice = await gateway.backends.erp.find_sales_invoice(US_COMPANY, result["amendment_id"])
    assert invoice is not None
    total = result["proration"]["total"]
    assert (invoice.total_excluding_tax, invoice.total_tax, invoice.total_including_tax) == (
        total,
        0,
        total,
    )
    assert result["erp_adjustment"]["total_including_tax"] == total


async def test_amendments_in_the_same_billing_second_each_post_only_their_own_proration(
    gateway: Gateway,
) -> None:
    """The second quote must leave out the first's prorations still waiting for the next
    invoice, though they start at the same second as its own."""
    billing(gateway).clock = ManualClock(int(time.time()))
    subscription = (await ordered(gateway))["subscription"]
    results = []
    for key, quantity in (("seats-3", 3), ("seats-4", 4)):
        response = await amend(
            gateway,
            subscription["id"],
            key,
            quantity=quantity,
            proration_behavior="create_prorations",
        )
        assert response.status_code == 201, response.text
        results.append(response.json())
    first, second = (result["proration"]["total"] for result in results)
    assert first == second > 0  # one more seat each, over the same remaining time
    for result in results:
        invoice = await gateway.backends.erp.find_sales_invoice(US_COMPANY, result["amendment_id"])
        assert invoice is not None
        assert invoice.total_excluding_tax == first
    pending = [
        item["amount"]
        for item in billing(gateway).invoice_items.values()
        if item["invoice"] is None and item["subscription"] == subscription["refs"]["billing"]
    ]
    assert sum(pending) == first + second


async def test_without_an_untaxed_group_the_erp_tax_is_a_mismatch_left_unposted(
    make_gateway: GatewayFactory,
) -> None:
    """The ERP would add tax billing never charged: never a success, nothing posted."""
    gateway = await make_gateway(ledger={"untaxed_tax_codes": {}})
    subscription = (await ordered(gateway))["subscription"]

    response = await amend(gateway, subscription["id"], "up-taxed", price_id=ENTERPRISE_USD)

    assert response.status_code == 502, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"] == PROBLEM_BASE_URI + "amendment-erp-totals-mismatch"
    net = problem["billing"]["subtotal"]
    assert problem["billing"] == {"subtotal": net, "tax_total": 0, "total": net}
    assert problem["erp"]["tax_total"] > 0
    invoice = await gateway.backends.erp.find_sales_invoice(US_COMPANY, problem["amendment_id"])
    assert invoice is not None
    assert invoice.status == "draft"
    run = (await gateway.client.get(f"/v1/runs/{problem['amendment_id']}")).json()
    assert run["status"] == "failed"
