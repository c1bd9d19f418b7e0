"""Billing invoices of our subscriptions, registered and posted by the inbox worker, on
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from process_apis.billing_inbox import BillingInbox
from sandboxes import stripe
from tests.conftest import Gateway, GatewayFactory
from tests.integration.test_subscriptions import ENTERPRISE_USD, amend, billing, ordered
from tests.support.invoices import US_COMPANY

WEBHOOK_URL = "http://gateway.test/webhooks/billing/stripe"


async def test_an_orders_invoice_is_registered_once_and_prorations_are_left_to_amendments(
    gateway: Gateway,
) -> None:
    state = billing(gateway)
    state.webhook_endpoints.append(
        stripe.WebhookEndpoint(url=WEBHOOK_URL, secret="whsec_sandbox", app=gateway.app)
    )
    subscription = (await ordered(gateway))["subscription"]
    inbox = BillingInbox(gateway.app.state.process)
    report = await inbox.drain()
    [invoice_id] = report.invoices
    invoice = (await gateway.client.get(f"/v1/invoices/{invoice_id}")).json()
    # billing charged no tax, so the line takes the US entity's untaxed group and the
    # payment of what billing charged settles the ERP invoice in full
    assert (invoice["status"], invoice["subscription_id"]) == ("paid", subscription["id"])
    assert {line["tax_code"] for line in invoice["lines"]} == {"EXEMPT"}
    first = state.subscriptions[subscription["refs"]["billing"]]["latest_invoice"]
    assert invoice["refs"]["billing"] == first
    erp = gateway.backends.erp_sandbox
    assert erp is not None
    assert erp.document_count(US_COMPANY, invoice_id) == 1
    # the line serves billing's period, and is recognized over it
    billed = state.invoices[first]["lines"]["data"][0]["period"]
    served = (
        datetime.fromtimestamp(billed["start"], UTC).date(),
        (datetime.fromtimestamp(billed["end"], UTC) - timedelta(days=1)).date(),
    )
    [line] = invoice["lines"]
    assert (line["service_period_start"], line["service_period_end"]) == tuple(
        day.isoformat() for day in served
    )
    ops = await gateway.client_with(["invoices:read"])
    schedule = (await ops.get(f"/v1/invoices/{invoice_id}/revenue-schedule")).json()
    [ratable] = schedule["schedules"]
    assert (ratable["method"], ratable["amount"]) == ("ratable_daily", line["amount"])
    assert sum(month["amount"] for month in ratable["months"]) == line["amount"]
    await ops.aclose()

    # an upgrade invoiced now: billing's invoice holds prorations only, which the
    # amendment posted to the ERP itself; the inbox registers nothing for it
    upgraded = await amend(
        gateway,
        subscription["id"],
        "upgrade",
        price_id=ENTERPRISE_USD,
        proration_behavior="always_invoice",
    )
    assert upgraded.status_code == 201, upgraded.text
    assert len(state.invoices) == 2
    report = await inbox.drain()
    # the invoice finalized and paid, and the subscription updated (dunning reads its status)
    assert report.consumed == 3
    assert (report.invoices, report.payments) == ([], [])
    assert erp.document_count(US_COMPANY, invoice_id) == 1


async def test_without_an_untaxed_group_a_billed_line_keeps_its_products_tax_group(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway(ledger={"untaxed_tax_codes": {}})
    billing(gateway).webhook_endpoints.append(
        stripe.WebhookEndpoint(url=WEBHOOK_URL, secret="whsec_sandbox", app=gateway.app)
    )
    await ordered(gateway)
    report = await BillingInbox(gateway.app.state.process).drain()
    [invoice_id] = report.invoices
    invoice = (await gateway.client.get(f"/v1/invoices/{invoice_id}")).json()
    assert {line["tax_code"] for line in invoice["lines"]} == {"STANDARD"}
    # the ERP adds sales tax billing never charged: totals that disagree wait for an operator
    assert invoice["status"] == "posting_mismatch"
