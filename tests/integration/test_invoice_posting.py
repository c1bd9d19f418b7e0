"""The invoice → ERP posting workflow across all three tiers, on SQLite and PostgreSQL."""

import asyncio
import re
from datetime import date
from typing import Any

import httpx

from core.errors import PROBLEM_BASE_URI
from core.models.invoice import InvoiceRow
from core.models.workflow_run import RunStatus, WorkflowRunRow
from process_apis.invoices.workflow import WORKFLOW
from process_apis.runs.engine import Engine
from tests.conftest import Gateway, GatewayFactory
from tests.support.erps import ErpCase
from tests.support.faults import SwitchableTransport, switchable_backends
from tests.support.invoices import (
    ACME,
    DE_COMPANY,
    INITECH,
    US_COMPANY,
    invoice_body,
    last_month,
)


async def register(gateway: Gateway, body: dict[str, Any] | None = None) -> str:
    response = await gateway.client.post("/v1/invoices", json=body or invoice_body())
    assert response.status_code == 201, response.text
    invoice_id: str = response.json()["id"]
    return invoice_id


async def post(gateway: Gateway, invoice_id: str, key: str, **body: Any) -> httpx.Response:
    return await gateway.client.post(
        f"/v1/invoices/{invoice_id}/postings", json=body, headers={"Idempotency-Key": key}
    )


class RecordingTransport(httpx.AsyncBaseTransport):
    """Passes requests through and notes each as `METHOD resource`, `?$filter` if a lookup."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.sent: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        resource = re.sub(r"\([^)]*\)", "()", request.url.path.rsplit("/", 1)[-1])
        lookup = "?$filter" if b"$filter" in request.url.query else ""
        self.sent.append(f"{request.method} {resource}{lookup}")
        return await self.inner.handle_async_request(request)


async def recording_gateway(make_gateway: GatewayFactory) -> tuple[Gateway, RecordingTransport]:
    transports: dict[str, RecordingTransport] = {}

    def wrap(name: str, inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        transports[name] = RecordingTransport(inner)
        return transports[name]

    gateway = await make_gateway(wrap=wrap)
    return gateway, transports["erp"]


def erp_documents(gateway: Gateway, invoice_id: str, company: str = US_COMPANY) -> int:
    assert gateway.backends.erp_sandbox is not None
    return gateway.backends.erp_sandbox.document_count(company, invoice_id)


async def test_posting_records_the_erp_acknowledgement(erp_case: ErpCase) -> None:
    gateway = erp_case.gateway
    invoice_id = await register(gateway)
    response = await post(gateway, invoice_id, "key-1")
    assert response.status_code == 201, response.text
    result = response.json()
    assert result["state"] == "posted"
    assert result["already_posted"] is False
    assert result["posting"]["erp_document_number"]

    invoice = (await gateway.client.get(f"/v1/invoices/{invoice_id}")).json()
    assert invoice["status"] == "posted"
    assert invoice["posting"]["erp_document_id"] == result["posting"]["erp_document_id"]
    assert invoice["last_run"]["status"] == "succeeded"

    run = (await gateway.client.get(result["run_url"])).json()
    assert [s["name"] for s in run["steps"]] == [
        "check_tax_codes",
        "upsert_customer",
        "create_document",
        "post_document",
    ]
    assert all(step["status"] == "succeeded" for step in run["steps"])
    assert run["result"]["totals_match"] is True
    assert erp_case.invoice_count(invoice_id) == 1
    assert erp_case.posted_invoices() == [invoice_id]


async def test_the_same_key_and_body_replays_the_first_answer(gateway: Gateway) -> None:
    invoice_id = await register(gateway)
    first = await post(gateway, invoice_id, "key-1")
    second = await post(gateway, invoice_id, "key-1")
    assert second.status_code == first.status_code == 201
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert erp_documents(gateway, invoice_id) == 1


async def test_the_same_key_with_another_body_is_a_422_problem(gateway: Gateway) -> None:
    invoice_id = await register(gateway)
    await post(gateway, invoice_id, "key-1")
    response = await post(gateway, invoice_id, "key-1", posting_date="2030-01-01")
    assert response.status_code == 422
    assert response.json()["type"] == PROBLEM_BASE_URI + "idempotency-key-reused"
    assert erp_documents(gateway, invoice_id) == 1


async def test_two_keys_for_one_invoice_still_make_one_erp_document(gateway: Gateway) -> None:
    invoice_id = await register(gateway)
    first = await post(gateway, invoice_id, "key-1")
    second = await post(gateway, invoice_id, "key-2")
    assert second.status_code == 200
    assert second.json()["already_posted"] is True
    assert second.json()["posting"] == first.json()["posting"]
    assert erp_documents(gateway, invoice_id) == 1


async def test_the_erp_external_number_guards_a_lost_acknowledgement(gateway: Gateway) -> None:
    """The gateway crashed after the ERP posted but before it recorded: no second document."""
    invoice_id = await register(gateway)
    first = await post(gateway, invoice_id, "key-1")
    document_id = first.json()["posting"]["erp_document_id"]
    async with gateway.sessionmaker() as session:  # forget the acknowledgement, as a crash would
        invoice = await session.get_one(InvoiceRow, invoice_id)
        invoice.status, invoice.erp_ref, invoice.erp_document_number = "posting", None, None
        run = await session.get_one(WorkflowRunRow, first.json()["run_id"])
        run.status = RunStatus.PENDING_RETRY
        await session.commit()
    again = await post(gateway, invoice_id, "key-2")
    assert again.status_code == 201, again.text
    assert again.json()["posting"]["erp_document_id"] == document_id
    assert erp_documents(gateway, invoice_id) == 1


async def test_a_closed_period_is_refused_by_the_reject_policy(gateway: Gateway) -> None:
    invoice_id = await register(gateway, invoice_body(invoice_date=last_month()))
    response = await post(gateway, invoice_id, "key-1")
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == PROBLEM_BASE_URI + "closed-period"
    assert problem["policy"] == "reject"
    run = (await gateway.client.get(problem["run_url"])).json()
    assert run["status"] == "failed"
    assert run["error_class"] == "business"
    invoice = (await gateway.client.get(f"/v1/invoices/{invoice_id}")).json()
    assert invoice["status"] == "open"
    assert erp_documents(gateway, invoice_id) == 0


async def test_a_closed_period_rolls_forward_by_policy(gateway: Gateway) -> None:
    body = invoice_body(INITECH, currency="EUR", invoice_date=last_month())
    invoice_id = await register(gateway, body)
    response = await post(gateway, invoice_id, "key-1")
    assert response.status_code == 201, response.text
    first_open_day = date.today().replace(day=1)  # the first day of the next open period
    assert response.json()["posting"]["posting_date"] == first_open_day.isoformat()
    assert erp_documents(gateway, invoice_id, DE_COMPANY) == 1


async def test_an_unknown_tax_code_is_a_business_problem(gateway: Gateway) -> None:
    body = invoice_body(lines=(("Luxury add-on", 1, 1000, "LUXURY"),))
    invoice_id = await register(gateway, body)
    response = await post(gateway, invoice_id, "key-1")
    assert response.status_code == 422
    assert response.json()["type"] == PROBLEM_BASE_URI + "unknown-tax-code"
    assert response.json()["tax_codes"] == ["LUXURY"]
    assert erp_documents(gateway, invoice_id) == 0


async def test_an_unreachable_erp_queues_the_run_and_a_retry_completes_it(
    make_gateway: GatewayFactory,
) -> None:
    switches, wrap = switchable_backends()

    gateway = await make_gateway(wrap=wrap)
    invoice_id = await register(gateway)
    switches["erp"].down = True
    response = await post(gateway, invoice_id, "key-1")
    assert response.status_code == 202, response.text
    assert response.json()["state"] == "pending_retry"
    assert response.headers["location"] == response.json()["run_url"]
    assert switches["erp"].refused == 3  # the whole retry budget was used
    run = (await gateway.client.get(response.json()["run_url"])).json()
    assert run["status"] == "pending_retry"
    assert run["error_class"] == "transient"
    assert run["next_attempt_at"]
    invoice = (await gateway.client.get(f"/v1/invoices/{invoice_id}")).json()
    assert invoice["status"] == "posting"
    assert erp_documents(gateway, invoice_id) == 0

    switches["erp"].down = False
    retried = await post(gateway, invoice_id, "key-2")
    assert retried.status_code == 201, retried.text
    assert retried.json()["run_id"] == run["id"]
    run = (await gateway.client.get(retried.json()["run_url"])).json()
    assert run["attempts"] == 2
    assert erp_documents(gateway, invoice_id) == 1


async def test_concurrent_requests_with_one_key_make_one_document(gateway: Gateway) -> None:
    invoice_id = await register(gateway)
    responses = await asyncio.gather(*(post(gateway, invoice_id, "same-key") for _ in range(8)))
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}
    assert 201 in statuses
    answers = {r.json()["posting"]["erp_document_id"] for r in responses if r.status_code == 201}
    assert len(answers) == 1
    assert erp_documents(gateway, invoice_id) == 1


async def test_concurrent_requests_with_different_keys_make_one_document(gateway: Gateway) -> None:
    invoice_id = await register(gateway)
    responses = await asyncio.gather(*(post(gateway, invoice_id, f"key-{i}") for i in range(6)))
    statuses = [r.status_code for r in responses]
    assert statuses.count(201) == 1, [r.text for r in responses]
    assert set(statuses) <= {200, 201, 409}
    assert erp_documents(gateway, invoice_id) == 1


async def test_a_posting_needs_an_idempotency_key(gateway: Gateway) -> None:
    invoice_id = await register(gateway)
    response = await gateway.client.post(f"/v1/invoices/{invoice_id}/postings", json={})
    assert response.status_code == 400
    assert response.json()["type"] == PROBLEM_BASE_URI + "idempotency-key-required"


async def test_an_invoice_for_an_unknown_customer_is_refused(gateway: Gateway) -> None:
    body = invoice_body("cus_01jd0000000000000000000000")
    response = await gateway.client.post("/v1/invoices", json=body)
    assert response.status_code == 422
    assert response.json()["type"] == PROBLEM_BASE_URI + "unknown-reference"


async def test_an_invoice_in_another_currency_than_the_customer_is_refused(
    gateway: Gateway,
) -> None:
    response = await gateway.client.post("/v1/invoices", json=invoice_body(ACME, currency="EUR"))
    assert response.status_code == 422
    assert response.json()["type"] == PROBLEM_BASE_URI + "currency-mismatch"


async def test_a_posting_already_running_elsewhere_is_a_409_problem(gateway: Gateway) -> None:
    invoice_id = await register(gateway)
    async with gateway.sessionmaker() as session:  # another replica holds the run's lease
        invoice = await session.get_one(InvoiceRow, invoice_id)
        invoice.status = "posting"
        session.add(
            Engine(gateway.sessionmaker, steps=()).new_run(
                workflow=WORKFLOW,
                subject_id=invoice_id,
                legal_entity_id=None,
                params={},
                correlation_id=None,
                client_id="other",
            )
        )
        await session.commit()
    response = await post(gateway, invoice_id, "key-1")
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == PROBLEM_BASE_URI + "run-in-progress"
    assert erp_documents(gateway, invoice_id) == 0
    retry = await post(gateway, invoice_id, "key-1")  # a 409 is not stored against the key
    assert retry.status_code == 409
    assert "idempotent-replayed" not in retry.headers


async def test_a_synced_customer_s_next_posting_sends_only_the_document(
    make_gateway: GatewayFactory,
) -> None:
    """Known tax groups and ERP customer are not asked again; the steps are still recorded."""
    gateway, erp = await recording_gateway(make_gateway)
    first = await post(gateway, await register(gateway), "key-1")
    assert first.status_code == 201, first.text
    body = invoice_body()
    invoice_id = await register(gateway, body)
    erp.sent.clear()
    response = await post(gateway, invoice_id, "key-2")
    assert response.status_code == 201, response.text
    assert len(body["lines"]) > 1
    # the document with every line (one deep insert), its post and its read, in one batch
    assert erp.sent == ["POST $batch"]
    run = (await gateway.client.get(response.json()["run_url"])).json()
    steps = {step["name"]: step for step in run["steps"]}
    assert list(steps) == ["check_tax_codes", "upsert_customer", "create_document", "post_document"]
    assert all(step["status"] == "succeeded" for step in steps.values())
    assert steps["check_tax_codes"]["outcome"]["source"] == "cache"
    assert steps["post_document"]["outcome"]["source"] == "created_with_it"
    customer_ref = steps["upsert_customer"]["backend_ref"]
    assert steps["upsert_customer"]["outcome"] == {"id": customer_ref, "source": "cross-reference"}
    assert (
        steps["post_document"]["backend_ref"] == response.json()["posting"]["erp_document_number"]
    )
    assert response.json()["posting"]["erp_document_number"].startswith("PS-INV")
    assert run["result"]["totals_match"] is True
    assert erp_documents(gateway, invoice_id) == 1


async def test_a_customer_with_an_unfinished_sync_is_upserted_again(
    make_gateway: GatewayFactory,
) -> None:
    gateway, erp = await recording_gateway(make_gateway)
    assert (await post(gateway, await register(gateway), "key-1")).status_code == 201
    async with gateway.sessionmaker() as session:  # a change of the customer waits for the ERP
        sync = Engine(gateway.sessionmaker, steps=()).new_run(
            workflow="customer_sync",
            subject_id=ACME,
            legal_entity_id=None,
            params={},
            correlation_id=None,
            client_id="other",
        )
        sync.status = RunStatus.PENDING_RETRY
        session.add(sync)
        await session.commit()
    erp.sent.clear()
    assert (await post(gateway, await register(gateway), "key-2")).status_code == 201
    assert "GET customers?$filter" in erp.sent


async def test_a_retried_posting_looks_everything_up_before_sending(
    make_gateway: GatewayFactory,
) -> None:
    """Only a run's first attempt ever may skip the lookups; a retry checks before it sends."""
    switches: dict[str, SwitchableTransport] = {}
    recorders: dict[str, RecordingTransport] = {}

    def wrap(name: str, inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        recorders[name] = RecordingTransport(inner)
        switches[name] = SwitchableTransport(recorders[name])
        return switches[name]

    gateway = await make_gateway(wrap=wrap)
    assert (await post(gateway, await register(gateway), "key-1")).status_code == 201
    invoice_id = await register(gateway)
    switches["erp"].down = True
    assert (await post(gateway, invoice_id, "key-2")).status_code == 202
    switches["erp"].down = False
    recorders["erp"].sent.clear()
    retried = await post(gateway, invoice_id, "key-3")
    assert retried.status_code == 201, retried.text
    sent = recorders["erp"].sent
    assert sent[:2] == ["GET customers?$filter", "GET salesInvoices?$filter"]
    assert sent.index("GET salesInvoices?$filter") < sent.index("POST salesInvoices")
    assert erp_documents(gateway, invoice_id) == 1
