"""ERP totals that disagree with ours: a failed posting, an invoice on hold, two ways out."""

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import select

from core.errors import PROBLEM_BASE_URI
from core.models.audit_event import AuditEventRow
from tests.conftest import Gateway, GatewayFactory
from tests.support.business_central import posts_document
from tests.support.invoices import US_COMPANY, invoice_body

MISMATCH = PROBLEM_BASE_URI + "erp-totals-mismatch"
ONE_LINE = (("Onboarding", 1, 1000, "STANDARD"),)  # tax 8.875 % of 1000: 89


def _sandbox_tax(gateway: Gateway, percent: str) -> None:
    """Misconfigure (or repair) the ERP's US standard tax group, as a finance admin might."""
    assert gateway.backends.erp_sandbox is not None
    group = gateway.backends.erp_sandbox.books[US_COMPANY].tax_groups["STANDARD"]
    group.percent = Decimal(percent)


async def _register(gateway: Gateway, body: dict[str, Any]) -> str:
    response = await gateway.client.post("/v1/invoices", json=body)
    assert response.status_code == 201, response.text
    invoice_id: str = response.json()["id"]
    return invoice_id


async def _post(gateway: Gateway, invoice_id: str, key: str = "post-1") -> httpx.Response:
    return await gateway.client.post(
        f"/v1/invoices/{invoice_id}/postings", json={}, headers={"Idempotency-Key": key}
    )


async def _ops(gateway: Gateway) -> httpx.AsyncClient:
    return await gateway.client_with(
        ["ops:read", "ops:write", "runs:read", "invoices:read"], client_id="finance-ops"
    )


async def _mismatched_invoice(gateway: Gateway) -> tuple[str, dict[str, Any]]:
    """An invoice the ERP booked with tax 500 where ours is 89."""
    _sandbox_tax(gateway, "50")
    invoice_id = await _register(gateway, invoice_body(lines=ONE_LINE))
    response = await _post(gateway, invoice_id)
    assert response.status_code == 502, response.text
    problem: dict[str, Any] = response.json()
    return invoice_id, problem


async def test_erp_tax_differing_from_ours_is_a_failed_posting(gateway: Gateway) -> None:
    invoice_id, problem = await _mismatched_invoice(gateway)
    assert problem["type"] == MISMATCH
    assert problem["ours"] == {"subtotal": 1000, "tax_total": 89, "total": 1089}
    assert problem["erp"] == {"subtotal": 1000, "tax_total": 500, "total": 1500}
    assert problem["erp_document_id"]
    assert problem["erp_document_number"]

    invoice = (await gateway.client.get(f"/v1/invoices/{invoice_id}")).json()
    assert invoice["status"] == "posting_mismatch"
    assert invoice["posting"]["erp_document_id"] == problem["erp_document_id"]
    assert invoice["total"] == 1089

    ops = await _ops(gateway)
    [queued] = (await ops.get("/ops/v1/exceptions")).json()["items"]
    assert queued["id"] == problem["run_id"]
    assert queued["error_class"] == "contract"
    run = (await ops.get(f"/v1/runs/{problem['run_id']}")).json()
    assert run["status"] == "failed"
    assert run["result"]["erp_document_id"] == problem["erp_document_id"]


def _one_cent_over() -> dict[str, Any]:
    body = invoice_body(lines=ONE_LINE)
    body["lines"][0]["tax_amount"] = body["tax_total"] = 90  # the ERP rounds to 89
    body["total"] = 1090
    return body


async def test_a_one_cent_difference_fails_by_default(gateway: Gateway) -> None:
    refused = await _post(gateway, await _register(gateway, _one_cent_over()))
    assert refused.status_code == 502
    assert refused.json()["ours"]["total"] == 1090
    assert refused.json()["erp"]["total"] == 1089


async def test_a_difference_within_the_currency_tolerance_is_posted(
    make_gateway: GatewayFactory,
) -> None:
    tolerant = await make_gateway(ledger={"totals_tolerance": {"USD": 1}})
    accepted = await _post(tolerant, await _register(tolerant, _one_cent_over()))
    assert accepted.status_code == 201, accepted.text


async def test_a_mismatched_invoice_takes_no_payment_nor_commission(gateway: Gateway) -> None:
    invoice_id, _ = await _mismatched_invoice(gateway)
    response = await gateway.client.post(
        f"/v1/invoices/{invoice_id}/payments",
        json={"amount": 1089, "currency": "USD"},
        headers={"Idempotency-Key": "pay-1"},
    )
    assert response.status_code == 422
    assert response.json()["type"] == PROBLEM_BASE_URI + "invoice-not-posted"


async def test_an_operator_accepts_the_erp_figures_with_a_reason(gateway: Gateway) -> None:
    invoice_id, problem = await _mismatched_invoice(gateway)
    ops = await _ops(gateway)
    no_reason = await ops.post(
        f"/ops/v1/invoices/{invoice_id}/posting-mismatch/accept",
        json={},
        headers={"Idempotency-Key": "accept-0"},
    )
    assert no_reason.status_code == 422
    accepted = await ops.post(
        f"/ops/v1/invoices/{invoice_id}/posting-mismatch/accept",
        json={"reason": "the customer was charged the ERP's tax; billing corrected"},
        headers={"Idempotency-Key": "accept-1"},
    )
    assert accepted.status_code == 200, accepted.text
    invoice = accepted.json()
    assert invoice["status"] == "posted"
    assert (invoice["subtotal"], invoice["tax_total"], invoice["total"]) == (1000, 500, 1500)
    assert invoice["posting"]["erp_document_id"] == problem["erp_document_id"]

    run = (await ops.get(f"/v1/runs/{problem['run_id']}")).json()
    assert run["status"] == "resolved"
    acceptance = run["result"]["accepted"]
    assert acceptance["by"] == "finance-ops"
    assert acceptance["reason"].startswith("the customer was charged")
    assert acceptance["ours"] == {"subtotal": 1000, "tax_total": 89, "total": 1089}
    assert (await ops.get("/ops/v1/exceptions")).json()["items"] == []
    async with gateway.sessionmaker() as session:
        audit = await session.scalar(
            select(AuditEventRow).where(
                AuditEventRow.action
                == "POST /ops/v1/invoices/{invoice_id}/posting-mismatch/accept",
                AuditEventRow.outcome == "succeeded",
            )
        )
    assert audit is not None
    assert audit.client_id == "finance-ops"
    assert audit.object_id == invoice_id

    again = await ops.post(
        f"/ops/v1/invoices/{invoice_id}/posting-mismatch/accept",
        json={"reason": "twice"},
        headers={"Idempotency-Key": "accept-2"},
    )
    assert again.status_code == 409
    assert again.json()["type"] == PROBLEM_BASE_URI + "invoice-not-mismatched"


class RepairAfterReversal(httpx.AsyncBaseTransport):
    """Repairs the ERP's tax group once a credit memo is posted, as finance would next."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.repair: Callable[[], None] = lambda: None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if posts_document(request, "salesCreditMemos"):
            self.repair()
        return response


async def test_an_operator_reverses_the_erp_document_and_posts_again(
    make_gateway: GatewayFactory,
) -> None:
    transports: dict[str, RepairAfterReversal] = {}

    def wrap(name: str, inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        transports[name] = RepairAfterReversal(inner)
        return transports[name]

    gateway = await make_gateway(wrap=wrap)
    invoice_id, problem = await _mismatched_invoice(gateway)
    transports["erp"].repair = lambda: _sandbox_tax(gateway, "8.875")
    ops = await _ops(gateway)
    response = await ops.post(
        f"/ops/v1/invoices/{invoice_id}/posting-mismatch/reverse",
        json={"reason": "wrong tax rate in the ERP"},
        headers={"Idempotency-Key": "reverse-1"},
    )
    assert response.status_code == 201, response.text
    result = response.json()
    assert result["state"] == "posted"
    assert result["posting"]["erp_document_id"] != problem["erp_document_id"]

    sandbox = gateway.backends.erp_sandbox
    assert sandbox is not None
    book = sandbox.books[US_COMPANY]
    first = book.invoices[problem["erp_document_id"]]
    assert first.remaining_amount == 0  # cancelled by a credit memo, never deleted
    [memo] = book.credit_memos.values()
    assert memo.status != "Draft"
    assert memo.total_including_tax == first.total_including_tax == Decimal("15.00")
    second = book.invoices[result["posting"]["erp_document_id"]]
    assert second.total_including_tax == Decimal("10.89")
    assert second.external_document_number == f"{invoice_id}-1"

    invoice = (await gateway.client.get(f"/v1/invoices/{invoice_id}")).json()
    assert invoice["status"] == "posted"
    assert invoice["total"] == 1089
    first_run = (await ops.get(f"/v1/runs/{problem['run_id']}")).json()
    assert first_run["status"] == "resolved"
    assert first_run["result"]["reversed"]["by"] == "finance-ops"
    assert (await ops.get("/ops/v1/exceptions")).json()["items"] == []


async def test_a_reversal_that_would_not_cancel_the_document_exactly_posts_nothing(
    gateway: Gateway,
) -> None:
    invoice_id, problem = await _mismatched_invoice(gateway)
    _sandbox_tax(gateway, "8.875")  # repaired first: a memo now credits 1089, not 1500
    ops = await _ops(gateway)
    response = await ops.post(
        f"/ops/v1/invoices/{invoice_id}/posting-mismatch/reverse",
        json={"reason": "wrong tax rate in the ERP, repaired"},
        headers={"Idempotency-Key": "reverse-1"},
    )
    assert response.status_code == 502
    assert response.json()["type"] == PROBLEM_BASE_URI + "erp-reversal-inexact"
    sandbox = gateway.backends.erp_sandbox
    assert sandbox is not None
    book = sandbox.books[US_COMPANY]
    assert all(memo.status == "Draft" for memo in book.credit_memos.values())
    assert book.invoices[problem["erp_document_id"]].remaining_amount == Decimal("15.00")
    invoice = (await gateway.client.get(f"/v1/invoices/{invoice_id}")).json()
    assert invoice["status"] == "posting_mismatch"


async def test_a_reposting_that_still_disagrees_is_a_mismatch_again(gateway: Gateway) -> None:
    invoice_id, problem = await _mismatched_invoice(gateway)
    ops = await _ops(gateway)
    response = await ops.post(
        f"/ops/v1/invoices/{invoice_id}/posting-mismatch/reverse",
        json={"reason": "try again"},
        headers={"Idempotency-Key": "reverse-1"},
    )
    assert response.status_code == 502
    assert response.json()["type"] == MISMATCH
    assert response.json()["erp_document_id"] != problem["erp_document_id"]
    invoice = (await gateway.client.get(f"/v1/invoices/{invoice_id}")).json()
    assert invoice["status"] == "posting_mismatch"
    assert invoice["posting"]["erp_document_id"] == response.json()["erp_document_id"]


async def test_only_a_mismatched_invoice_can_be_reversed(gateway: Gateway) -> None:
    invoice_id = await _register(gateway, invoice_body(lines=ONE_LINE))
    assert (await _post(gateway, invoice_id)).status_code == 201
    ops = await _ops(gateway)
    response = await ops.post(
        f"/ops/v1/invoices/{invoice_id}/posting-mismatch/reverse",
        json={"reason": "no"},
        headers={"Idempotency-Key": "reverse-1"},
    )
    assert response.status_code == 409
    assert response.json()["type"] == PROBLEM_BASE_URI + "invoice-not-mismatched"
