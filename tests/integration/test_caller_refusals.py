"""A request its caller can correct is answered 422 and recorded on its run, never queued."""

from datetime import date
from typing import Any

import httpx

from core.errors import PROBLEM_BASE_URI
from tests.conftest import Gateway
from tests.integration.test_credit_memos import credit_body, posted_invoice, request_credit
from tests.integration.test_settlements import pay, product_invoice
from tests.integration.test_subscriptions import FABRIKAM, GLOBEX, order


async def _refused(gateway: Gateway, response: httpx.Response, slug: str) -> dict[str, Any]:
    """The problem, its run `rejected` with it, and an empty exception queue."""
    assert response.status_code == 422, response.text
    problem: dict[str, Any] = response.json()
    assert problem["type"] == PROBLEM_BASE_URI + slug
    ops = await gateway.client_with(["ops:read", "runs:read"], client_id="finance-ops")
    run = (await ops.get(problem["run_url"])).json()
    assert (run["status"], run["error_type"]) == ("rejected", PROBLEM_BASE_URI + slug)
    assert (await ops.get("/ops/v1/exceptions")).json()["items"] == []
    await ops.aclose()
    return problem


async def test_an_overpayment_is_answered_not_queued(gateway: Gateway) -> None:
    invoice = await posted_invoice(gateway, product_invoice())
    response = await pay(gateway, invoice, invoice["total"] + 1, "p1")
    problem = await _refused(gateway, response, "payment-exceeds-remaining")
    payment = (await gateway.client.get(f"/v1/payments/{problem['payment_id']}")).json()
    assert payment["status"] == "void"
    corrected = await pay(gateway, invoice, invoice["total"], "p2")
    assert corrected.status_code == 201, corrected.text


async def test_a_payment_dated_outside_every_period_is_answered_not_queued(
    gateway: Gateway,
) -> None:
    invoice = await posted_invoice(gateway, product_invoice())
    response = await pay(gateway, invoice, 100, "p1", paid_on=date(1999, 1, 4).isoformat())
    await _refused(gateway, response, "accounting-period-undefined")


async def test_an_ineligible_partner_is_answered_not_queued(gateway: Gateway) -> None:
    response = await order(gateway, "order-1", customer_id=GLOBEX, partner_id=FABRIKAM)
    problem = await _refused(gateway, response, "partner-not-eligible")
    subscription = await gateway.client.get(f"/v1/subscriptions/{problem['subscription_id']}")
    assert subscription.json()["status"] == "canceled"


async def test_an_unknown_support_case_is_answered_not_queued(gateway: Gateway) -> None:
    invoice = await posted_invoice(gateway)
    body = credit_body(invoice["id"], "CASE-DOES-NOT-EXIST", 5000)
    response = await request_credit(gateway.client, body, "k1")
    problem = await _refused(gateway, response, "unknown-support-case")
    memo = (await gateway.client.get(f"/v1/credit-memos/{problem['credit_memo_id']}")).json()
    assert memo["status"] == "rejected"
