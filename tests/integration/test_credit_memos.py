"""The support credit → credit memo workflow across the tiers and the ERP, billing and
support sandboxes, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from app.governance.auth.clients import create_client
from app.seed import demo_id
from core.errors import PROBLEM_BASE_URI
from core.models.credit_memo import CreditMemoRow
from core.models.workflow_run import RunStatus, WorkflowRunRow
from process_apis.billing_inbox import BillingInbox
from process_apis.worker import replayer
from sandboxes import stripe
from sandboxes.faults import FaultConfig
from system_apis.billing.schemas import BillingCustomerCreate
from system_apis.http import InProcessTransport
from system_apis.support.schemas import SupportCaseCreate, SupportEntitlementGrant, SupportTier
from tests.conftest import Gateway, GatewayFactory
from tests.support.erps import ErpCase
from tests.support.faults import switchable_backends
from tests.support.invoices import ACME, INITECH, US_COMPANY, invoice_body
from tests.support.stripe_sandbox import create_invoice, sandbox_http

APPROVER = ["credit_memos:approve", "credit_memos:write", "credit_memos:read"]
WEBHOOK_URL = "http://gateway.test/webhooks/billing/stripe"
ENTERPRISE = demo_id("product", 2)


async def posted_invoice(gateway: Gateway, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """An invoice registered and posted to the ERP through the API."""
    created = await gateway.client.post("/v1/invoices", json=body or invoice_body())
    assert created.status_code == 201, created.text
    invoice_id = created.json()["id"]
    posted = await gateway.client.post(
        f"/v1/invoices/{invoice_id}/postings", json={}, headers={"Idempotency-Key": invoice_id}
    )
    assert posted.status_code == 201, posted.text
    invoice: dict[str, Any] = (await gateway.client.get(f"/v1/invoices/{invoice_id}")).json()
    return invoice


async def open_case(gateway: Gateway, customer_id: str = ACME) -> str:
    case = await gateway.backends.support.open_case(
        SupportCaseCreate(customer_id=customer_id, subject="The API was down for two hours"),
        idempotency_key=f"case-{customer_id}",
    )
    return case.id


async def grant(gateway: Gateway, tier: SupportTier, customer_id: str = ACME) -> str:
    entitlement = await gateway.backends.support.grant_entitlement(
        customer_id,
        SupportEntitlementGrant(product_id=ENTERPRISE, tier=tier),
        idempotency_key=f"grant-{customer_id}",
    )
    return entitlement.id


def credit_body(invoice_id: str, case_id: str, amount: int, **extra: Any) -> dict[str, Any]:
    return {
        "invoice_id": invoice_id,
        "amount": amount,
        "currency": "USD",
        "reason_code": "outage",
        "case_id": case_id,
        **extra,
    }


async def request_credit(
    client: httpx.AsyncClient, body: dict[str, Any], key: str
) -> httpx.Response:
    return await client.post("/v1/credit-memos", json=body, headers={"Idempotency-Key": key})


async def approve(client: httpx.AsyncClient, memo_id: str, key: str) -> httpx.Response:
    return await client.post(
        f"/v1/credit-memos/{memo_id}/approve", json={}, headers={"Idempotency-Key": key}
    )


async def erp_remaining(
    gateway: Gateway, invoice: dict[str, Any], company: str = US_COMPANY
) -> int:
    erp_id = invoice["posting"]["erp_document_id"]
    return (await gateway.backends.erp.get_sales_invoice(company, erp_id)).remaining_amount


async def bill_in_stripe(gateway: Gateway, invoice: dict[str, Any]) -> str:
    """The invoice billed by the billing engine too: a Stripe invoice naming it, finalized;
    its `invoice.finalized` event reaches the gateway's inbox, which links the two."""
    state = gateway.backends.billing_sandbox
    assert state is not None
    state.webhook_endpoints.append(
        stripe.WebhookEndpoint(url=WEBHOOK_URL, secret="whsec_sandbox", app=gateway.app)
    )
    customer = await gateway.backends.billing.create_customer(
        BillingCustomerCreate(reference=invoice["customer_id"], name="Acme", currency="USD"),
        idempotency_key=f"customer-{invoice['customer_id']}",
    )
    async with sandbox_http(InProcessTransport(app=stripe.create_app(state))) as http:
        billed = await create_invoice(
            http,
            customer.id,
            amounts=(invoice["total"],),
            metadata={"ledgergate_id": invoice["id"]},
            finalize=True,
        )
    report = await BillingInbox(gateway.app.state.process).drain()
    assert report.consumed == 1
    linked = (await gateway.client.get(f"/v1/invoices/{invoice['id']}")).json()
    assert linked["refs"]["billing"] == billed["id"]
    return str(billed["id"])


async def test_a_credit_under_the_threshold_is_issued_at_once(erp_case: ErpCase) -> None:
    gateway, company = erp_case.gateway, erp_case.company_id
    invoice = await posted_invoice(gateway)
    owed = await erp_remaining(gateway, invoice, company)
    case_id = await open_case(gateway)
    response = await request_credit(gateway.client, credit_body(invoice["id"], case_id, 5000), "k1")
    assert response.status_code == 201, response.text
    memo = response.json()
    assert memo["status"] == "posted"
    assert memo["approval_required"] is False
    assert memo["approved_by"] == "test-platform"
    # ERP: a posted credit memo keyed by our id, applied to the posted invoice, taxed like it
    erp_memo = await gateway.backends.erp.find_sales_credit_memo(company, memo["id"])
    assert erp_memo is not None
    assert erp_memo.status == "paid"  # applied in full to the invoice
    assert erp_memo.applies_to_invoice_id == invoice["posting"]["erp_document_id"]
    assert erp_memo.total_excluding_tax == 5000
    assert erp_memo.total_including_tax == 5000 + 444  # 8.875 % US sales tax
    assert memo["erp_total_including_tax"] == 5444
    assert memo["erp_document_number"] == erp_memo.number
    assert await erp_remaining(gateway, invoice, company) == owed - 5444
    # billing: the invoice was never billed there, so no credit note
    assert gateway.backends.billing_sandbox is not None
    assert gateway.backends.billing_sandbox.credit_notes == {}
    assert memo["refs"]["billing"] is None
    # support: the case's service credit, approved
    assert gateway.backends.support_sandbox is not None
    credits = list(gateway.backends.support_sandbox.service_credits.values())
    assert [(c.ticket_id, c.status, c.invoice_ref) for c in credits] == [
        (case_id, "approved", invoice["id"])
    ]
    assert (credits[0].note or "").startswith(memo["id"])
    assert memo["support_ref"] == credits[0].id
    run = (await gateway.client.get(memo["run_url"])).json()
    assert [s["name"] for s in run["steps"]] == [
        "check_case",
        "create_erp_credit_memo",
        "post_erp_credit_memo",
        "request_service_credit",
        "approve_service_credit",
    ]
    assert run["result"]["billing_credit_note"] is None
    assert run["result"]["billing_skipped"]
    read = (await gateway.client.get(f"/v1/credit-memos/{memo['id']}")).json()
    assert read["status"] == "posted"
    assert read["last_run"]["status"] == "succeeded"


async def test_the_same_key_replays_and_issues_nothing_twice(gateway: Gateway) -> None:
    invoice = await posted_invoice(gateway)
    case_id = await open_case(gateway)
    body = credit_body(invoice["id"], case_id, 2500)
    first = await request_credit(gateway.client, body, "same")
    second = await request_credit(gateway.client, body, "same")
    assert second.status_code == first.status_code == 201
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert gateway.backends.erp_sandbox is not None
    assert gateway.backends.erp_sandbox.credit_memo_count(US_COMPANY, first.json()["id"]) == 1
    assert gateway.backends.support_sandbox is not None
    assert len(gateway.backends.support_sandbox.service_credits) == 1
    reused = await request_credit(gateway.client, {**body, "amount": 2600}, "same")
    assert reused.status_code == 422
    assert reused.json()["type"] == PROBLEM_BASE_URI + "idempotency-key-reused"


async def test_above_the_threshold_a_credit_waits_for_an_approver(gateway: Gateway) -> None:
    invoice = await posted_invoice(gateway)
    case_id = await open_case(gateway)
    response = await request_credit(gateway.client, credit_body(invoice["id"], case_id, 15000), "k")
    assert response.status_code == 201, response.text
    memo = response.json()
    assert (memo["status"], memo["approval_required"], memo["last_run"]) == (
        "requested",
        True,
        None,
    )
    assert gateway.backends.erp_sandbox is not None
    assert gateway.backends.erp_sandbox.credit_memo_count(US_COMPANY, memo["id"]) == 0

    refused = await approve(gateway.client, memo["id"], "a1")
    assert refused.status_code == 403
    assert refused.json()["missing_scopes"] == ["credit_memos:approve"]

    approver = await gateway.client_with(APPROVER, client_id="finance-approver")
    approved = await approve(approver, memo["id"], "a1")
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "posted"
    assert approved.json()["approved_by"] == "finance-approver"
    assert gateway.backends.erp_sandbox.credit_memo_count(US_COMPANY, memo["id"]) == 1
    again = await approve(approver, memo["id"], "a2")  # approving a posted memo changes nothing
    assert again.status_code == 200
    assert again.json()["erp_document_number"] == approved.json()["erp_document_number"]
    assert gateway.backends.erp_sandbox.credit_memo_count(US_COMPANY, memo["id"]) == 1
    await approver.aclose()


async def test_a_currency_without_a_threshold_always_needs_approval(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway(credit_memos={"approval_thresholds": {"EUR": 10_000}})
    invoice = await posted_invoice(gateway)
    case_id = await open_case(gateway)
    response = await request_credit(gateway.client, credit_body(invoice["id"], case_id, 100), "k")
    assert response.json()["status"] == "requested"


async def test_the_client_money_limit_applies_unless_it_may_approve(gateway: Gateway) -> None:
    invoice = await posted_invoice(gateway)
    case_id = await open_case(gateway)
    async with gateway.sessionmaker() as session:
        for client_id, scopes in (("small-desk", ["credit_memos:write"]), ("lead-desk", APPROVER)):
            await create_client(
                session,
                name=client_id,
                client_id=client_id,
                scopes=scopes,
                money_limits={"credit_memos:write": {"USD": 1000}},
            )
        await session.commit()
    small = await gateway.client_with(["credit_memos:write"], client_id="small-desk")
    refused = await request_credit(small, credit_body(invoice["id"], case_id, 5000), "k")
    assert refused.status_code == 403
    assert refused.json()["type"] == PROBLEM_BASE_URI + "money-limit-exceeded"
    lead = await gateway.client_with(APPROVER, client_id="lead-desk")
    allowed = await request_credit(lead, credit_body(invoice["id"], case_id, 5000), "k")
    assert allowed.status_code == 201, allowed.text
    await small.aclose()
    await lead.aclose()


async def test_a_credit_larger_than_what_the_invoice_owes_is_a_422(gateway: Gateway) -> None:
    invoice = await posted_invoice(gateway)
    owed = await erp_remaining(gateway, invoice)
    case_id = await open_case(gateway)
    approver = await gateway.client_with(APPROVER, client_id="finance-approver")
    memo = (
        await request_credit(
            gateway.client, credit_body(invoice["id"], case_id, invoice["subtotal"] + 100), "k"
        )
    ).json()
    response = await approve(approver, memo["id"], "a")
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"] == PROBLEM_BASE_URI + "credit-exceeds-remaining"
    assert problem["remaining_amount"] == owed
    assert problem["credit_total"] > owed
    run = (await gateway.client.get(problem["run_url"])).json()
    assert (run["status"], run["error_class"]) == ("failed", "business")
    # the ERP refused to post it: the invoice owes as much as before; nothing issued elsewhere
    assert await erp_remaining(gateway, invoice) == owed
    erp_memo = await gateway.backends.erp.find_sales_credit_memo(US_COMPANY, memo["id"])
    assert erp_memo is not None
    assert erp_memo.status == "draft"
    assert gateway.backends.support_sandbox is not None
    assert gateway.backends.support_sandbox.service_credits == {}
    read = (await approver.get(f"/v1/credit-memos/{memo['id']}")).json()
    assert read["status"] == "approved"
    await approver.aclose()


async def test_a_second_credit_is_held_to_what_the_first_left(gateway: Gateway) -> None:
    """A credit on an invoice already credited: the ERP counts what is left after the first."""
    invoice = await posted_invoice(gateway)
    case_id = await open_case(gateway)
    approver = await gateway.client_with(APPROVER, client_id="finance-approver")
    first = await request_credit(gateway.client, credit_body(invoice["id"], case_id, 30000), "k1")
    assert (await approve(approver, first.json()["id"], "a1")).status_code == 200
    second = await request_credit(gateway.client, credit_body(invoice["id"], case_id, 12000), "k2")
    response = await approve(approver, second.json()["id"], "a2")
    assert response.status_code == 422
    assert response.json()["remaining_amount"] == invoice["total"] - (30000 + 2663)
    await approver.aclose()


async def test_credits_are_only_for_posted_invoices_in_their_currency(gateway: Gateway) -> None:
    created = (await gateway.client.post("/v1/invoices", json=invoice_body())).json()
    case_id = await open_case(gateway)
    unposted = await request_credit(gateway.client, credit_body(created["id"], case_id, 100), "k1")
    assert unposted.status_code == 422
    assert unposted.json()["type"] == PROBLEM_BASE_URI + "invoice-not-posted"
    invoice = await posted_invoice(gateway)
    euros = await request_credit(
        gateway.client, {**credit_body(invoice["id"], case_id, 100), "currency": "EUR"}, "k2"
    )
    assert euros.json()["type"] == PROBLEM_BASE_URI + "credit-currency-mismatch"
    downgrade_without_target = await request_credit(
        gateway.client,
        {**credit_body(invoice["id"], case_id, 100), "reason_code": "plan_downgrade"},
        "k3",
    )
    assert downgrade_without_target.status_code == 422
    assert downgrade_without_target.json()["type"] == PROBLEM_BASE_URI + "validation-error"


async def test_a_case_of_another_customer_is_refused_before_any_write(gateway: Gateway) -> None:
    invoice = await posted_invoice(gateway)
    case_id = await open_case(gateway, INITECH)
    response = await request_credit(gateway.client, credit_body(invoice["id"], case_id, 100), "k")
    assert response.status_code == 422
    assert response.json()["type"] == PROBLEM_BASE_URI + "support-case-mismatch"
    assert gateway.backends.erp_sandbox is not None
    assert gateway.backends.erp_sandbox.books[US_COMPANY].credit_memos == {}


async def test_a_billed_invoice_gets_a_billing_credit_note_and_a_downgrade(
    gateway: Gateway,
) -> None:
    invoice = await posted_invoice(gateway)
    billing_invoice = await bill_in_stripe(gateway, invoice)
    entitlement_id = await grant(gateway, SupportTier.ENTERPRISE)
    case_id = await open_case(gateway)
    body = credit_body(
        invoice["id"],
        case_id,
        8000,
        reason_code="plan_downgrade",
        entitlement_change={"product_id": ENTERPRISE, "tier": "pro"},
    )
    response = await request_credit(gateway.client, body, "k")
    assert response.status_code == 201, response.text
    memo = response.json()
    assert memo["status"] == "posted"
    assert gateway.backends.billing_sandbox is not None
    notes = list(gateway.backends.billing_sandbox.credit_notes.values())
    assert len(notes) == 1
    assert notes[0]["invoice"] == billing_invoice
    assert notes[0]["amount"] == memo["erp_total_including_tax"] == 8000 + 710
    assert notes[0]["reason"] == "order_change"
    assert notes[0]["metadata"]["ledgergate_id"] == memo["id"]
    assert memo["refs"]["billing"] == notes[0]["id"]
    assert gateway.backends.support_sandbox is not None
    assert gateway.backends.support_sandbox.entitlements[entitlement_id].tier == "pro"
    # a crash before the outcome was recorded: replaying every step issues nothing twice
    async with gateway.sessionmaker() as session:
        await session.execute(
            update(WorkflowRunRow)
            .where(WorkflowRunRow.id == memo["last_run"]["id"])
            .values(status=RunStatus.PENDING_RETRY)
        )
        await session.execute(
            update(CreditMemoRow)
            .where(CreditMemoRow.id == memo["id"])
            .values(status="approved", billing_ref=None, erp_ref=None, support_ref=None)
        )
        await session.commit()
    status = await replayer(gateway.app.state.process).replay(memo["last_run"]["id"])
    assert status == "succeeded"
    assert len(gateway.backends.billing_sandbox.credit_notes) == 1
    assert len(gateway.backends.support_sandbox.service_credits) == 1
    assert gateway.backends.erp_sandbox is not None
    assert gateway.backends.erp_sandbox.credit_memo_count(US_COMPANY, memo["id"]) == 1
    replayed = (await gateway.client.get(f"/v1/credit-memos/{memo['id']}")).json()
    assert (replayed["status"], replayed["refs"]) == ("posted", memo["refs"])


async def test_an_unreachable_desk_queues_the_run_and_the_replayer_completes_it(
    make_gateway: GatewayFactory,
) -> None:
    switches, wrap = switchable_backends()

    gateway = await make_gateway(wrap=wrap, support=FAST)
    invoice = await posted_invoice(gateway)
    case_id = await open_case(gateway)
    switches["support"].down = True
    response = await request_credit(gateway.client, credit_body(invoice["id"], case_id, 1000), "k")
    assert response.status_code == 202, response.text
    memo = response.json()
    assert response.headers["location"] == memo["run_url"]
    assert (memo["status"], memo["last_run"]["status"]) == ("approved", "pending_retry")
    assert memo["last_run"]["error_class"] == "transient"
    switches["support"].down = False
    await _make_due(gateway, memo["last_run"]["id"])
    report = await replayer(gateway.app.state.process).run_once()
    assert report.outcomes == {"succeeded": 1}
    done = (await gateway.client.get(f"/v1/credit-memos/{memo['id']}")).json()
    assert done["status"] == "posted"
    assert done["last_run"]["attempts"] == 2
    assert gateway.backends.erp_sandbox is not None
    assert gateway.backends.erp_sandbox.credit_memo_count(US_COMPANY, memo["id"]) == 1


async def test_discarding_before_the_erp_posted_withdraws_the_credit(gateway: Gateway) -> None:
    invoice = await posted_invoice(gateway)
    case_id = await open_case(gateway, INITECH)  # a mismatch: the run fails before any write
    failed = await request_credit(gateway.client, credit_body(invoice["id"], case_id, 100), "k")
    assert failed.status_code == 422
    replay = replayer(gateway.app.state.process)
    await replay.close(
        failed.json()["run_id"], status=RunStatus.DISCARDED, note="wrong case", operator="ops"
    )
    async with gateway.sessionmaker() as session:
        run = await session.get_one(WorkflowRunRow, failed.json()["run_id"])
    memo = (await gateway.client.get(f"/v1/credit-memos/{run.subject_id}")).json()
    assert memo["status"] == "rejected"


async def test_discarding_after_the_erp_posted_reverses_the_credit(
    make_gateway: GatewayFactory,
) -> None:
    failing: dict[str, ServiceCreditsDown] = {}

    def wrap(name: str, inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        if name != "support":
            return inner
        failing[name] = ServiceCreditsDown(inner)
        return failing[name]

    gateway = await make_gateway(wrap=wrap, support=FAST)
    invoice = await posted_invoice(gateway)
    owed = await erp_remaining(gateway, invoice)
    case_id = await open_case(gateway)
    response = await request_credit(gateway.client, credit_body(invoice["id"], case_id, 1000), "k")
    assert response.status_code == 202  # the ERP memo is posted; the desk is unreachable
    memo = response.json()
    assert await erp_remaining(gateway, invoice) == owed - 1089
    replay = replayer(gateway.app.state.process)
    await replay.close(
        memo["last_run"]["id"], status=RunStatus.DISCARDED, note="customer withdrew", operator="ops"
    )
    report = await replay.run_once()  # the reversal run is due at once
    assert report.outcomes == {"succeeded": 1}
    assert (await gateway.client.get(f"/v1/credit-memos/{memo['id']}")).json()["status"] == (
        "rejected"
    )
    reversing = await gateway.backends.erp.find_sales_invoice(US_COMPANY, f"{memo['id']}-R")
    assert reversing is not None
    assert (reversing.status, reversing.total_including_tax) == ("posted", 1089)
    again = await approve(
        await gateway.client_with(APPROVER, client_id="finance-approver"), memo["id"], "a"
    )
    assert again.status_code == 409


FAST = {"retry_attempts": 1, "retry_budget_seconds": 1.0}


class ServiceCreditsDown(httpx.AsyncBaseTransport):
    """The desk answers everything but service credits, which are unreachable."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if "service_credits" in request.url.path:
            raise httpx.ConnectError("connection refused (injected)", request=request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def _make_due(gateway: Gateway, run_id: str) -> None:
    async with gateway.sessionmaker() as session:
        run = await session.get_one(WorkflowRunRow, run_id)
        assert run.next_attempt_at is not None
        run.next_attempt_at -= timedelta(hours=2)
        await session.commit()


async def test_the_requester_cannot_approve_its_own_credit(gateway: Gateway) -> None:
    invoice = await posted_invoice(gateway)
    case_id = await open_case(gateway)
    lead = await gateway.client_with(APPROVER, client_id="lead-desk")
    memo = (await request_credit(lead, credit_body(invoice["id"], case_id, 15000), "k")).json()
    assert memo["status"] == "requested"
    refused = await approve(lead, memo["id"], "a1")
    assert refused.status_code == 422
    assert refused.json()["type"] == PROBLEM_BASE_URI + "credit-self-approval"
    assert gateway.backends.erp_sandbox is not None
    assert gateway.backends.erp_sandbox.credit_memo_count(US_COMPANY, memo["id"]) == 0
    read = (await gateway.client.get(f"/v1/credit-memos/{memo['id']}")).json()
    assert (read["status"], read["last_run"]) == ("requested", None)
    approver = await gateway.client_with(APPROVER, client_id="finance-approver")
    approved = await approve(approver, memo["id"], "a2")
    assert approved.status_code == 200, approved.text
    assert approved.json()["approved_by"] == "finance-approver"
    await lead.aclose()
    await approver.aclose()


async def test_credits_split_under_the_threshold_on_one_invoice_still_need_approval(
    gateway: Gateway,
) -> None:
    invoice = await posted_invoice(gateway)
    first_case = await open_case(gateway)
    second_case = (
        await gateway.backends.support.open_case(
            SupportCaseCreate(customer_id=ACME, subject="Another outage"), idempotency_key="case-2"
        )
    ).id
    first = await request_credit(gateway.client, credit_body(invoice["id"], first_case, 6000), "k1")
    assert first.json()["status"] == "posted"
    second = await request_credit(
        gateway.client, credit_body(invoice["id"], second_case, 6000), "k2"
    )
    assert second.status_code == 201, second.text
    assert (second.json()["status"], second.json()["approval_required"]) == ("requested", True)
    assert gateway.backends.erp_sandbox is not None
    assert gateway.backends.erp_sandbox.credit_memo_count(US_COMPANY, second.json()["id"]) == 0


async def test_credits_split_across_invoices_of_one_case_still_need_approval(
    gateway: Gateway,
) -> None:
    case_id = await open_case(gateway)
    answers = []
    for number in range(3):
        invoice = await posted_invoice(gateway)
        body = credit_body(invoice["id"], case_id, 4000)
        answers.append((await request_credit(gateway.client, body, f"k{number}")).json())
    assert [a["status"] for a in answers] == ["posted", "posted", "requested"]
    assert answers[2]["approval_required"] is True


async def test_a_retry_after_a_failed_answer_requests_no_second_credit(gateway: Gateway) -> None:
    invoice = await posted_invoice(gateway)
    case_id = await open_case(gateway)
    body = credit_body(invoice["id"], case_id, 1000)
    gateway.backends.faults["erp"].configure(FaultConfig(malformed_rate=1.0))
    failed = await request_credit(gateway.client, body, "once")
    assert failed.status_code >= 500, failed.text  # no final answer: the key is released
    gateway.backends.faults["erp"].configure(FaultConfig())

    retried = await request_credit(gateway.client, body, "once")

    async with gateway.sessionmaker() as session:
        memos = list(await session.scalars(select(CreditMemoRow)))
    assert [memo.id for memo in memos] == [retried.json()["id"]]
