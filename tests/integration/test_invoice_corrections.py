"""Correcting a posted invoice with a credit memo, across the tiers and the ERP and billing
sandboxes, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx

from core.errors import PROBLEM_BASE_URI
from core.models.workflow_run import RunStatus, WorkflowRunRow
from process_apis.worker import replayer
from tests.conftest import Gateway, GatewayFactory
from tests.integration.test_credit_memos import (
    APPROVER,
    bill_in_stripe,
    credit_body,
    erp_remaining,
    open_case,
    posted_invoice,
    request_credit,
)
from tests.integration.test_reconciliation import reconciliation
from tests.support.faults import switchable_backends
from tests.support.invoices import US_COMPANY, invoice_body

FAST = {"retry_attempts": 1, "retry_budget_seconds": 1.0}
# The default invoice: 3 × 4900 taxed 1305, 1 × 25000 taxed 2219 (8.875 %): 43224 in all.
PRO_TAX, ONBOARDING_TAX, TOTAL = 1305, 2219, 43224


async def correct(
    client: httpx.AsyncClient, invoice_id: str, key: str, **body: Any
) -> httpx.Response:
    return await client.post(
        f"/v1/invoices/{invoice_id}/corrections",
        json={"reason": "Billed the wrong seats", **body},
        headers={"Idempotency-Key": key},
    )


async def high_threshold(make_gateway: GatewayFactory, **kwargs: Any) -> Gateway:
    """A gateway whose USD credits up to 1,000,000.00 need no approval."""
    return await make_gateway(credit_memos={"approval_thresholds": {"USD": 100_000_000}}, **kwargs)


async def test_a_whole_invoice_correction_credits_every_line_and_the_invoice_shows_it(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await high_threshold(make_gateway)
    invoice = await posted_invoice(gateway)
    pro, onboarding = invoice["lines"]
    response = await correct(gateway.client, invoice["id"], "c1")
    assert response.status_code == 201, response.text
    memo = response.json()
    assert (memo["kind"], memo["status"], memo["reason_code"]) == (
        "correction",
        "posted",
        "correction",
    )
    assert (memo["invoice_id"], memo["amount"], memo["tax_amount"]) == (
        invoice["id"],
        39700,
        PRO_TAX + ONBOARDING_TAX,
    )
    assert memo["note"] == "Billed the wrong seats"
    assert [
        (line["invoice_line_id"], line["quantity"], line["amount"], line["tax_amount"])
        for line in memo["lines"]
    ] == [(pro["id"], 3, 14700, PRO_TAX), (onboarding["id"], 1, 25000, ONBOARDING_TAX)]
    # the ERP: a posted memo with the invoice's lines, applied to it, which now owes nothing
    erp_memo = await gateway.backends.erp.find_sales_credit_memo(US_COMPANY, memo["id"])
    assert erp_memo is not None
    assert erp_memo.applies_to_invoice_id == invoice["posting"]["erp_document_id"]
    assert (erp_memo.line_count, erp_memo.total_including_tax) == (2, TOTAL)
    assert memo["erp_total_including_tax"] == TOTAL
    assert await erp_remaining(gateway, invoice) == 0
    run = (await gateway.client.get(memo["run_url"])).json()
    assert (run["workflow"], run["status"]) == ("credit_memo_correction", "succeeded")
    assert [step["name"] for step in run["steps"]] == [
        "create_erp_credit_memo",
        "post_erp_credit_memo",
    ]
    # the invoice shows the correction, fully credited, nothing due
    read = (await gateway.client.get(f"/v1/invoices/{invoice['id']}")).json()
    credit = read["credit"]
    assert (credit["status"], credit["amount_credited"], credit["amount_due"]) == (
        "fully_credited",
        TOTAL,
        0,
    )
    assert [(m["id"], m["kind"], m["status"]) for m in credit["credit_memos"]] == [
        (memo["id"], "correction", "posted")
    ]
    assert [line["invoice_line_id"] for line in credit["credit_memos"][0]["lines"]] == [
        pro["id"],
        onboarding["id"],
    ]
    v2 = (await gateway.client.get(f"/v2/invoices/{invoice['id']}")).json()["credit"]
    assert (v2["status"], v2["due"], v2["credited"]) == (
        "fully_credited",
        {"amount": 0, "currency": "USD"},
        {"amount": TOTAL, "currency": "USD"},
    )
    assert v2["credit_memos"][0]["lines"][0]["tax"] == {"amount": PRO_TAX, "currency": "USD"}
    listed = await gateway.client.get(
        "/v1/credit-memos", params={"invoice_id": invoice["id"], "kind": "correction"}
    )
    assert [item["id"] for item in listed.json()["items"]] == [memo["id"]]
    assert (await gateway.client.get(f"/v1/credit-memos/{memo['id']}")).json()["last_run"][
        "id"
    ] == run["id"]
    # nothing is left to correct
    again = await correct(gateway.client, invoice["id"], "c2")
    assert again.status_code == 422
    assert again.json()["type"] == PROBLEM_BASE_URI + "credit-exceeds-invoice"


async def test_partial_corrections_share_the_tax_so_it_adds_up_exactly(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await high_threshold(make_gateway)
    invoice = await posted_invoice(gateway)
    pro, onboarding = (line["id"] for line in invoice["lines"])
    first = await correct(
        gateway.client,
        invoice["id"],
        "c1",
        lines=[
            {"invoice_line_id": pro, "quantity": 1},
            {"invoice_line_id": onboarding, "amount": 10000},
        ],
    )
    assert first.status_code == 201, first.text
    # 1/3 of 1305 is 435; 10000/25000 of 2219 is 887.6, rounded to 888
    assert [(line["amount"], line["tax_amount"]) for line in first.json()["lines"]] == [
        (4900, 435),
        (10000, 888),
    ]
    erp_memo = await gateway.backends.erp.find_sales_credit_memo(US_COMPANY, first.json()["id"])
    assert erp_memo is not None
    assert (erp_memo.total_excluding_tax, erp_memo.total_tax) == (14900, 435 + 888)
    partial = (await gateway.client.get(f"/v1/invoices/{invoice['id']}")).json()["credit"]
    assert (partial["status"], partial["amount_due"]) == (
        "partially_credited",
        TOTAL - (14900 + 1323),
    )
    # the rest: the shares of both corrections add up to each line's tax exactly
    rest = await correct(
        gateway.client,
        invoice["id"],
        "c2",
        lines=[
            {"invoice_line_id": pro, "quantity": 2},
            {"invoice_line_id": onboarding, "amount": 15000},
        ],
    )
    assert rest.status_code == 201, rest.text
    assert [line["tax_amount"] for line in rest.json()["lines"]] == [
        PRO_TAX - 435,
        ONBOARDING_TAX - 888,
    ]
    assert first.json()["tax_amount"] + rest.json()["tax_amount"] == PRO_TAX + ONBOARDING_TAX
    assert await erp_remaining(gateway, invoice) == 0
    done = (await gateway.client.get(f"/v1/invoices/{invoice['id']}")).json()["credit"]
    assert (done["status"], done["amount_credited"], done["amount_due"]) == (
        "fully_credited",
        TOTAL,
        0,
    )
    over = await correct(
        gateway.client, invoice["id"], "c3", lines=[{"invoice_line_id": pro, "quantity": 1}]
    )
    assert over.status_code == 422
    assert over.json()["type"] == PROBLEM_BASE_URI + "correction-exceeds-line"


async def test_corrections_are_refused_with_their_own_problems(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await high_threshold(make_gateway)
    created = (await gateway.client.post("/v1/invoices", json=invoice_body())).json()
    unposted = await correct(gateway.client, created["id"], "c1")
    assert unposted.status_code == 409
    assert unposted.json()["type"] == PROBLEM_BASE_URI + "invoice-not-correctable"
    assert unposted.json()["invoice_status"] == "open"
    invoice = await posted_invoice(gateway)
    pro = invoice["lines"][0]["id"]
    unknown = await correct(
        gateway.client,
        invoice["id"],
        "c2",
        lines=[{"invoice_line_id": created["lines"][0]["id"], "amount": 100}],
    )
    assert unknown.status_code == 422
    assert unknown.json()["type"] == PROBLEM_BASE_URI + "unknown-invoice-line"
    assert unknown.json()["pointer"] == "#/lines/0/invoice_line_id"
    both = await correct(
        gateway.client,
        invoice["id"],
        "c3",
        lines=[{"invoice_line_id": pro, "amount": 100, "quantity": 1}],
    )
    assert both.json()["type"] == PROBLEM_BASE_URI + "validation-error"
    too_much = await correct(
        gateway.client, invoice["id"], "c4", lines=[{"invoice_line_id": pro, "amount": 14701}]
    )
    assert too_much.json()["type"] == PROBLEM_BASE_URI + "correction-exceeds-line"
    keyless = await gateway.client.post(
        f"/v1/invoices/{invoice['id']}/corrections", json={"reason": "wrong"}
    )
    assert keyless.status_code == 400
    assert keyless.json()["type"] == PROBLEM_BASE_URI + "idempotency-key-required"
    # a support credit counts too: the two together may not credit more than the total
    support = await request_credit(
        gateway.client, credit_body(invoice["id"], await open_case(gateway), 20000), "s1"
    )
    assert support.json()["status"] == "posted"
    whole = await correct(gateway.client, invoice["id"], "c5")
    assert whole.status_code == 422
    problem = whole.json()
    assert problem["type"] == PROBLEM_BASE_URI + "credit-exceeds-invoice"
    assert (problem["invoice_total"], problem["credited_total"]) == (TOTAL, 20000 + 1775)
    assert gateway.backends.erp_sandbox is not None
    assert len(gateway.backends.erp_sandbox.books[US_COMPANY].credit_memos) == 1


async def test_above_the_threshold_another_client_approves_the_correction(
    gateway: Gateway,
) -> None:
    invoice = await posted_invoice(gateway)
    lead = await gateway.client_with(APPROVER, client_id="finance-lead")
    response = await correct(lead, invoice["id"], "c1")
    assert response.status_code == 201, response.text
    memo = response.json()
    assert (memo["status"], memo["approval_required"], memo["last_run"]) == (
        "requested",
        True,
        None,
    )
    assert gateway.backends.erp_sandbox is not None
    assert gateway.backends.erp_sandbox.credit_memo_count(US_COMPANY, memo["id"]) == 0
    approve = f"/v1/credit-memos/{memo['id']}/approve"
    own = await lead.post(approve, json={}, headers={"Idempotency-Key": "a1"})
    assert own.status_code == 422
    assert own.json()["type"] == PROBLEM_BASE_URI + "credit-self-approval"
    controller = await gateway.client_with(APPROVER, client_id="controller")
    approved = await controller.post(approve, json={}, headers={"Idempotency-Key": "a1"})
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["approved_by"]) == ("posted", "controller")
    assert approved.json()["last_run"]["status"] == "succeeded"
    assert gateway.backends.erp_sandbox.credit_memo_count(US_COMPANY, memo["id"]) == 1
    # the same request again answers the same correction; the ERP holds one memo
    replayed = await correct(lead, invoice["id"], "c1")
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.json()["id"] == memo["id"]
    await lead.aclose()
    await controller.aclose()


async def test_an_unreachable_erp_queues_the_correction_and_the_replayer_posts_it(
    make_gateway: GatewayFactory,
) -> None:
    switches, wrap = switchable_backends()

    gateway = await high_threshold(make_gateway, wrap=wrap, erp=FAST)
    invoice = await posted_invoice(gateway)
    switches["erp"].down = True
    response = await correct(
        gateway.client,
        invoice["id"],
        "c1",
        lines=[{"invoice_line_id": invoice["lines"][1]["id"], "amount": 5000}],
    )
    assert response.status_code == 202, response.text
    memo = response.json()
    assert response.headers["location"] == memo["run_url"]
    assert (memo["status"], memo["last_run"]["status"]) == ("approved", "pending_retry")
    switches["erp"].down = False
    async with gateway.sessionmaker() as session:
        run = await session.get_one(WorkflowRunRow, memo["last_run"]["id"])
        run.next_attempt_at = run.created_at
        await session.commit()
    report = await replayer(gateway.app.state.process).run_once()
    assert report.outcomes == {RunStatus.SUCCEEDED.value: 1}
    done = (await gateway.client.get(f"/v1/credit-memos/{memo['id']}")).json()
    assert (done["status"], done["last_run"]["attempts"]) == ("posted", 2)
    assert gateway.backends.erp_sandbox is not None
    assert gateway.backends.erp_sandbox.credit_memo_count(US_COMPANY, memo["id"]) == 1


async def test_a_corrected_billed_invoice_gets_a_credit_note_and_reconciles_clean(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await high_threshold(make_gateway)
    invoice = await posted_invoice(gateway)
    billing_invoice = await bill_in_stripe(gateway, invoice)
    response = await correct(
        gateway.client,
        invoice["id"],
        "c1",
        lines=[{"invoice_line_id": invoice["lines"][0]["id"], "quantity": 1}],
    )
    assert response.status_code == 201, response.text
    memo = response.json()
    assert gateway.backends.billing_sandbox is not None
    notes = list(gateway.backends.billing_sandbox.credit_notes.values())
    assert [(note["invoice"], note["total"]) for note in notes] == [(billing_invoice, 4900 + 435)]
    assert memo["refs"]["billing"] == notes[0]["id"]
    body = await reconciliation(gateway)
    assert body["differences"] == []
    assert body["clean"] is True


async def test_discarding_a_correction_the_erp_posted_reverses_its_lines(
    make_gateway: GatewayFactory,
) -> None:
    switches, wrap = switchable_backends()

    gateway = await high_threshold(make_gateway, wrap=wrap, billing=FAST)
    invoice = await posted_invoice(gateway)
    await bill_in_stripe(gateway, invoice)
    switches["billing"].down = True  # the ERP memo is posted, billing's note cannot follow
    response = await correct(gateway.client, invoice["id"], "c1")
    assert response.status_code == 202, response.text
    memo = response.json()
    assert await erp_remaining(gateway, invoice) == 0
    replay = replayer(gateway.app.state.process)
    await replay.close(
        memo["last_run"]["id"], status=RunStatus.DISCARDED, note="wrong invoice", operator="ops"
    )
    report = await replay.run_once()  # the reversal run is due at once
    assert report.outcomes == {RunStatus.SUCCEEDED.value: 1}
    withdrawn = (await gateway.client.get(f"/v1/credit-memos/{memo['id']}")).json()
    assert withdrawn["status"] == "rejected"
    # a reversing sales invoice with the correction's two lines: the invoice owes it all again
    reversing = await gateway.backends.erp.find_sales_invoice(US_COMPANY, f"{memo['id']}-R")
    assert reversing is not None
    assert (reversing.total_including_tax, reversing.status) == (TOTAL, "posted")
    credit = (await gateway.client.get(f"/v1/invoices/{invoice['id']}")).json()["credit"]
    assert (credit["status"], credit["credit_memos"][0]["status"]) == ("not_credited", "rejected")


async def test_a_correction_in_a_closed_period_is_refused_by_the_policy_then_resumed(
    make_gateway: GatewayFactory,
) -> None:
    """LG-US rejects postings into a closed period: the correction's run fails, and
    approving it again once the period is open posts it."""
    gateway = await high_threshold(make_gateway)
    invoice = await posted_invoice(gateway)
    ops = await gateway.client_with(["refdata:read", "refdata:write"], client_id="finance-ops")
    url = f"/ops/v1/legal-entities/{invoice['legal_entity_id']}"
    today = date.today().isoformat()
    period = next(
        p for p in (await ops.get(url)).json()["periods"] if p["starts_on"] <= today <= p["ends_on"]
    )
    closing = f"{url}/periods/{period['id']}"
    closed = await ops.post(
        f"{closing}/close", json={"reason": "month end"}, headers={"If-Match": '"1"'}
    )
    assert closed.status_code == 200, closed.text
    refused = await correct(gateway.client, invoice["id"], "c1")
    assert refused.status_code == 422
    problem = refused.json()
    assert problem["type"] == PROBLEM_BASE_URI + "closed-period"
    assert gateway.backends.erp_sandbox is not None
    assert gateway.backends.erp_sandbox.books[US_COMPANY].credit_memos == {}
    memo = (await gateway.client.get(f"/v1/credit-memos/{problem['credit_memo_id']}")).json()
    assert (memo["status"], memo["last_run"]["status"]) == ("approved", "failed")
    reopened = await ops.post(
        f"{closing}/reopen", json={"reason": "late correction"}, headers={"If-Match": '"2"'}
    )
    assert reopened.status_code == 200, reopened.text
    approver = await gateway.client_with(APPROVER, client_id="finance-approver")
    again = await approver.post(
        f"/v1/credit-memos/{memo['id']}/approve", json={}, headers={"Idempotency-Key": "a1"}
    )
    assert again.status_code == 200, again.text
    assert (again.json()["status"], again.json()["posting_date"]) == ("posted", today)
    await ops.aclose()
    await approver.aclose()
