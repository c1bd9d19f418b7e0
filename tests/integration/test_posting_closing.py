"""The posting's closing transaction, written by SQL Core on a connection: the rows it leaves
are those its ORM session left, the run keeps its version check and the invoice its status
guard, and nothing of it commits when either refuses."""

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Executable, select, update
from sqlalchemy.orm.exc import StaleDataError

from core.canonical.documents import InvoiceStatus
from core.db import table_of
from core.errors import InvalidTransition
from core.models.audit_event import AuditEventRow
from core.models.customer import CustomerRow
from core.models.event_outbox import EventOutboxRow
from core.models.idempotency_key import IdempotencyKeyRow
from core.models.invoice import InvoiceRow
from core.models.workflow_run import WorkflowRunRow
from process_apis.invoices.workflow import InvoicePostingWorkflow, PostingPlan
from tests.conftest import Gateway
from tests.integration.test_invoice_posting import post, register

INVOICES = table_of(InvoiceRow)
RUNS = table_of(WorkflowRunRow)
OUTBOX = table_of(EventOutboxRow)
KEYS = table_of(IdempotencyKeyRow)
POSTING_ACTION = "POST /v1/invoices/{invoice_id}/postings"


async def test_a_posting_s_closing_leaves_the_rows_its_session_left(gateway: Gateway) -> None:
    invoice_id = await register(gateway)

    response = await post(gateway, invoice_id, "k")

    assert response.status_code == 201, response.text
    posting = response.json()["posting"]
    run_id = response.json()["run_id"]
    async with gateway.sessionmaker() as session:
        invoice = await session.get_one(InvoiceRow, invoice_id)
        run = await session.get_one(WorkflowRunRow, run_id)
        customer = await session.get_one(CustomerRow, invoice.customer_id)
        events = (
            await session.scalars(
                select(EventOutboxRow).where(
                    EventOutboxRow.envelope["data"]["id"].as_string() == invoice_id
                )
            )
        ).all()
        audit = await session.scalar(
            select(AuditEventRow).where(
                AuditEventRow.object_id == invoice_id, AuditEventRow.action == POSTING_ACTION
            )
        )
        key = await session.scalar(select(IdempotencyKeyRow).where(IdempotencyKeyRow.key == "k"))
    assert (invoice.status, invoice.version) == (InvoiceStatus.POSTED, 3)  # open, posting
    assert (invoice.erp_ref, invoice.erp_document_number) == (
        posting["erp_document_id"],
        posting["erp_document_number"],
    )
    assert (run.status, run.version, run.next_attempt_at, run.error_class) == (
        "succeeded",
        2,
        None,
        None,
    )
    assert run.finished_at is not None
    assert run.result == {
        "erp_document_id": invoice.erp_ref,
        "erp_document_number": invoice.erp_document_number,
        "erp_status": "posted",
        "posting_date": posting["posting_date"],
        "erp_total_excluding_tax": invoice.subtotal,
        "erp_total_tax": invoice.tax_total,
        "erp_total_including_tax": invoice.total,
        "totals_match": True,
    }
    [event] = [e for e in events if e.type == "com.ledgergate.invoice.posted.v1"]
    assert event.envelope["data"] == {
        "id": invoice_id,
        "customer_id": invoice.customer_id,
        "legal_entity_id": invoice.legal_entity_id,
        "currency": invoice.currency,
        "total": invoice.total,
        "status": "posted",
        "erp_document_number": invoice.erp_document_number,
        "posting_date": posting["posting_date"],
        "posted_at": event.envelope["data"]["posted_at"],
        "run_id": run_id,
    }
    assert invoice.posted_at is not None
    assert event.envelope["data"]["posted_at"][:19] == invoice.posted_at.isoformat()[:19]
    assert (event.subject, event.partner_id, event.envelope["type"]) == (
        invoice_id,
        customer.partner_id,
        event.type,
    )
    assert audit is not None
    assert key is not None
    assert (audit.action, audit.outcome, audit.status_code, audit.client_id, audit.count) == (
        POSTING_ACTION,
        "succeeded",
        201,
        key.client_id,
        1,
    )
    assert (audit.correlation_id, audit.request_hash is not None) == (
        response.headers["x-correlation-id"],
        True,
    )
    assert (key.status, key.response_status, key.locked_until) == ("completed", 201, None)
    assert key.response_body == response.text


async def _prepared(gateway: Gateway) -> tuple[InvoicePostingWorkflow, PostingPlan]:
    workflow = InvoicePostingWorkflow(gateway.app.state.process)
    invoice_id = await register(gateway)
    plan = await workflow.prepare(invoice_id, client_id="platform", correlation_id=None)
    assert isinstance(plan, PostingPlan)
    return workflow, plan


async def _closing_written(gateway: Gateway, plan: PostingPlan) -> tuple[str, str, int]:
    async with gateway.sessionmaker() as session:
        invoice = await session.get_one(InvoiceRow, plan.invoice_id)
        run = await session.get_one(WorkflowRunRow, plan.run_id)
        posted = await session.scalar(
            select(OUTBOX.c.event_id).where(
                OUTBOX.c.subject == plan.invoice_id, OUTBOX.c.type == "invoice.posted"
            )
        )
    return invoice.status, run.status, 0 if posted is None else 1


async def test_the_closing_keeps_the_run_s_version_check(gateway: Gateway) -> None:
    workflow, plan = await _prepared(gateway)
    async with gateway.sessionmaker.begin() as other:  # the run written by another since
        await other.execute(
            update(RUNS).where(RUNS.c.id == plan.run_id).values(version=RUNS.c.version + 1)
        )

    with pytest.raises(StaleDataError):
        await workflow.execute(plan)

    assert await _closing_written(gateway, plan) == (InvoiceStatus.POSTING, "running", 0)


async def test_the_closing_refuses_an_invoice_moved_on_since(gateway: Gateway) -> None:
    workflow, plan = await _prepared(gateway)
    async with gateway.sessionmaker.begin() as other:  # the invoice voided since, say
        await other.execute(
            update(INVOICES)
            .where(INVOICES.c.id == plan.invoice_id)
            .values(status=InvoiceStatus.VOID)
        )

    with pytest.raises(InvalidTransition):
        await workflow.execute(plan)

    assert await _closing_written(gateway, plan) == (InvoiceStatus.VOID, "running", 0)


def _changed_before_the_closing(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch, change: Callable[[str, str], Executable]
) -> None:
    """Another writer's `change(invoice_id, run_id)` committed between a posting's last step
    and its closing."""
    record = InvoicePostingWorkflow._record

    async def changed_first(self: InvoicePostingWorkflow, plan: PostingPlan, *args: Any) -> Any:
        async with gateway.sessionmaker.begin() as other:
            await other.execute(change(plan.invoice_id, plan.run_id))
        return await record(self, plan, *args)

    monkeypatch.setattr(InvoicePostingWorkflow, "_record", changed_first)


@pytest.mark.parametrize(
    ("change", "status", "problem", "invoice_status"),
    [
        (
            lambda _invoice_id, run_id: (
                update(RUNS).where(RUNS.c.id == run_id).values(version=RUNS.c.version + 1)
            ),
            409,
            "version-conflict",
            InvoiceStatus.POSTING,
        ),
        (
            lambda invoice_id, _run_id: (
                update(INVOICES)
                .where(INVOICES.c.id == invoice_id)
                .values(status=InvoiceStatus.VOID)
            ),
            409,
            "invalid-status-transition",
            InvoiceStatus.VOID,
        ),
    ],
    ids=["stale run", "invoice moved on"],
)
async def test_a_refusal_of_the_closing_sent_with_the_key_s_completion_commits_nothing(
    gateway: Gateway,
    monkeypatch: pytest.MonkeyPatch,
    change: Callable[[str, str], Executable],
    status: int,
    problem: str,
    invoice_status: InvoiceStatus,
) -> None:
    """The closing's writes go with the key's completion: a refusal of theirs is answered as
    the closing itself refused, the key released for a retry and nothing of it committed."""
    invoice_id = await register(gateway)
    _changed_before_the_closing(gateway, monkeypatch, change)

    response = await post(gateway, invoice_id, "refused")

    assert response.status_code == status, response.text
    assert response.json()["type"].endswith(problem)
    async with gateway.sessionmaker() as session:
        invoice = await session.get_one(InvoiceRow, invoice_id)
        run = await session.scalar(select(WorkflowRunRow).where(RUNS.c.subject_id == invoice_id))
        posted = await session.scalar(
            select(OUTBOX.c.event_id).where(
                OUTBOX.c.subject == invoice_id, OUTBOX.c.type == "invoice.posted"
            )
        )
        key = await session.scalar(select(KEYS.c.key).where(KEYS.c.key == "refused"))
    assert run is not None
    assert (invoice.status, run.status, posted, key) == (invoice_status, "running", None, None)
