"""Reference scenario (b) through the HTTP API: a mid-cycle upgrade from Pro to Enterprise.

Acme orders Pro (2 seats); half-way through the month it previews and applies an
upgrade to Enterprise. Billing prorates to the second (a credit for the unused Pro
time, a charge for the Enterprise rest of the period), the ERP posts a sales invoice
for the net charge keyed by the amendment (with the tax billing charged: none), and
the support desk gives Acme premium (enterprise) support: its next case is routed P1.
Billing runs on a manual clock so the proration is exact.
"""

import time
from datetime import UTC, datetime, timedelta

from app.seed import demo_id
from sandboxes.stripe import ManualClock, prorate
from tests.conftest import Gateway
from tests.support.invoices import US_COMPANY

ACME = demo_id("customer", 1)
PRO, ENTERPRISE = demo_id("product", 1), demo_id("product", 2)
PRO_USD, ENTERPRISE_USD = demo_id("price", 11), demo_id("price", 21)
HALF_A_MONTH = 15 * 24 * 3600


async def test_a_mid_cycle_upgrade_prorates_posts_the_adjustment_and_grants_premium(
    gateway: Gateway,
) -> None:
    stripe, erp, desk = (
        gateway.backends.billing_sandbox,
        gateway.backends.erp_sandbox,
        gateway.backends.support_sandbox,
    )
    assert stripe is not None
    assert erp is not None
    assert desk is not None
    clock = ManualClock(int(time.time()))
    stripe.clock = clock
    client = gateway.client

    ordered = await client.post(
        "/v1/subscriptions",
        json={"customer_id": ACME, "price_id": PRO_USD, "quantity": 2},
        headers={"Idempotency-Key": "acme-pro"},
    )
    assert ordered.status_code == 201, ordered.text
    subscription = ordered.json()["subscription"]
    billing_id = subscription["refs"]["billing"]
    period_start = stripe.subscriptions[billing_id]["current_period_start"]
    period_end = stripe.subscriptions[billing_id]["current_period_end"]

    clock.advance(HALF_A_MONTH)
    change = {"price_id": ENTERPRISE_USD}
    preview = await client.post(
        f"/v1/subscriptions/{subscription['id']}/amendments/preview", json=change
    )
    assert preview.status_code == 200, preview.text
    quoted = preview.json()
    remaining, period = period_end - clock.now, period_end - period_start
    credit = prorate(-4900 * 2, remaining=remaining, period=period)
    charge = prorate(19900 * 2, remaining=remaining, period=period)
    assert sorted(line["amount"] for line in quoted["lines"]) == [credit, charge]
    assert quoted["total"] == credit + charge
    assert quoted["proration_date"] == datetime.fromtimestamp(clock.now, UTC).isoformat().replace(
        "+00:00", "Z"
    )
    assert quoted["erp_adjustment"] == "sales_invoice"

    amended = await client.post(
        f"/v1/subscriptions/{subscription['id']}/amendments",
        json=change,
        headers={"Idempotency-Key": "acme-upgrade"},
    )
    assert amended.status_code == 201, amended.text
    result = amended.json()
    amendment_id = result["amendment_id"]
    assert result["proration"]["total"] == quoted["total"]
    assert (result["subscription"]["price_id"], result["subscription"]["tier"]) == (
        ENTERPRISE_USD,
        "enterprise",
    )

    # Billing: the item moved to Enterprise mid-cycle, with the quoted prorations pending.
    held = stripe.subscriptions[billing_id]
    [item] = held["items"]["data"]
    assert (item["price"]["metadata"]["ledgergate_id"], item["quantity"]) == (ENTERPRISE_USD, 2)
    assert (held["current_period_start"], held["current_period_end"]) == (period_start, period_end)
    prorations = sorted(
        i["amount"] for i in stripe.invoice_items.values() if i["proration"] and not i["invoice"]
    )
    assert prorations == [credit, charge]

    # ERP: one posted sales invoice for the net charge, keyed by the amendment, with the
    # tax billing charged on the prorations: none, so the ERP adds none either.
    posted = [i for i in erp.posted_invoices(US_COMPANY) if i.external_document_number]
    assert [i.external_document_number for i in posted] == [amendment_id]
    document = await gateway.backends.erp.find_sales_invoice(US_COMPANY, amendment_id)
    assert document is not None
    assert document.status == "posted"
    assert document.total_excluding_tax == credit + charge
    assert (document.total_tax, document.total_including_tax) == (0, credit + charge)
    acme = (await client.get(f"/v1/customers/{ACME}")).json()
    assert document.customer_number == acme["erp_number"]
    assert result["erp_adjustment"]["document_number"] == document.number
    assert result["erp_adjustment"]["posting_date"] == (
        datetime.fromtimestamp(clock.now, UTC).date().isoformat()
    )
    assert datetime.fromisoformat(result["erp_adjustment"]["posting_date"]) > (
        datetime.now(UTC).replace(tzinfo=None) + timedelta(days=14)
    )

    # Support: enterprise granted, pro revoked, so Acme's next case is P1.
    held_by_acme = {
        e.product_ref: (e.tier, e.active)
        for e in desk.entitlements.values()
        if e.customer_ref == ACME
    }
    assert held_by_acme == {PRO: ("pro", False), ENTERPRISE: ("enterprise", True)}
    internal = await gateway.client_with(["system:support"], client_id="internal-desk")
    case = await internal.post(
        "/system/support/v1/cases",
        json={"customer_id": ACME, "subject": "SSO login fails"},
        headers={"Idempotency-Key": "case-1"},
    )
    await internal.aclose()
    assert case.status_code == 201, case.text
    assert (case.json()["priority"], case.json()["entitlement_tier"]) == ("P1", "enterprise")

    # Canonical entitlements: the premium features are active; the Pro-only ones are gone.
    active = (await client.get(f"/v1/customers/{ACME}/entitlements?status=active")).json()
    assert sorted(e["feature"] for e in active["entitlements"]) == [
        "api_access",
        "audit_log_export",
        "premium_support",
        "sso",
        "webhooks",
    ]
    assert {e["tier"] for e in active["entitlements"]} == {"enterprise"}

    # A re-sync finds nothing to change.
    resync = await client.post(f"/v1/customers/{ACME}/entitlements/resync")
    assert resync.status_code == 200, resync.text
    run = (await client.get(resync.json()["run"]["run_url"])).json()
    assert (run["result"]["granted"], run["result"]["revoked"]) == ([], [])
    assert [(e["product_id"], e["tier"]) for e in resync.json()["support"]] == [
        (ENTERPRISE, "enterprise")
    ]
