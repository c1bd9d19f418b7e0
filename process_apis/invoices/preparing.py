"""The posting's prepare transaction in SQL: what it reads once the invoice is locked (its
legal entity among it), in one statement, and the invoice it leaves `posting`, by SQL Core
statements built once (the invoice's own write sent with the run's first step, folded with
it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import (
    Column,
    ColumnElement,
    Date,
    ScalarSelect,
    String,
    bindparam,
    func,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm.attributes import set_committed_value

from core.db import table_of
from core.driver import rows
from core.errors import NotFound
from core.folded import Write
from core.models.customer import CustomerRow
from core.models.invoice import InvoiceLineRow, InvoiceRow
from core.models.workflow_run import RunStatus, WorkflowRunRow
from core.rows import columns_of, detached
from core.versioned import leave_written, versioned_write
from process_apis.legal_entities.snapshot import LegalEntitySnapshot, joined, snapshot_of

RUNS = table_of(WorkflowRunRow)
CUSTOMERS = table_of(CustomerRow)
LINES = table_of(InvoiceLineRow)


def _latest(column: Column[str], workflow: str, subject: ColumnElement[str]) -> ScalarSelect[str]:
    """`column` of the subject's most recent run of the workflow bound as `workflow`."""
    return (
        select(column)
        .where(RUNS.c.workflow == bindparam(workflow), RUNS.c.subject_id == subject)
        .order_by(RUNS.c.created_at.desc(), RUNS.c.id.desc())
        .limit(1)
        .correlate_except(RUNS)
        .scalar_subquery()
    )


_POSTING_RUN = RUNS.alias("posting_run")
# What the plan takes of the customer (`PostedCustomer`'s fields, in its order).
_CUSTOMER_COLUMNS = tuple(
    CUSTOMERS.c[name]
    for name in ("id", "name", "email", "currency", "erp_number", "erp_ref", "partner_id")
)
_LATEST_SYNC = _latest(RUNS.c.status, "sync_workflow", CUSTOMERS.c.id)
_REVERSALS = (
    select(func.count())
    .select_from(RUNS)
    .where(
        RUNS.c.workflow == bindparam("reversal_workflow"),
        RUNS.c.subject_id == bindparam("invoice_id"),
        RUNS.c.status == RunStatus.SUCCEEDED,
    )
    .scalar_subquery()
)
# Built once (each execution hits its memoized cache key and compiled form).
_AFTER_LOCK = joined(
    select(*_CUSTOMER_COLUMNS, _LATEST_SYNC, _REVERSALS, _POSTING_RUN)
    .outerjoin_from(
        CUSTOMERS,
        _POSTING_RUN,
        _POSTING_RUN.c.id == _latest(RUNS.c.id, "workflow", bindparam("invoice_id")),
    )
    .where(CUSTOMERS.c.id == bindparam("customer_id")),
    CUSTOMERS,
    legal_entity_id=bindparam("legal_entity_id", type_=String),
    on=bindparam("on", type_=Date),
    tax_codes=select(LINES.c.tax_code).where(LINES.c.invoice_id == bindparam("invoice_id")),
)
# Where its columns are in its rows: the customer's, the sync's status, the reversals, the run's.
_RUN_COLUMNS = columns_of(WorkflowRunRow)
_SYNC_STATUS_AT = len(_CUSTOMER_COLUMNS)
_REVERSALS_AT = _SYNC_STATUS_AT + 1
_RUN_AT = slice(_REVERSALS_AT + 1, _REVERSALS_AT + 1 + len(_RUN_COLUMNS))
_DEFER_LINE = update(LINES).where(LINES.c.id == bindparam("line_id"))


@dataclass(frozen=True)
class PostedCustomer:
    """What a posting takes of the invoice's customer."""

    id: str
    name: str
    email: str
    currency: str
    erp_number: str
    erp_ref: str | None
    partner_id: str | None


@dataclass(frozen=True)
class AfterLock:
    """What the prepare reads once it holds the invoice's row lock."""

    # The invoice's latest posting run, if any.
    run: WorkflowRunRow | None
    customer: PostedCustomer
    # Whether the ERP holds the customer as it is now: it has its ERP id, and no sync since
    # is unfinished (every change of a customer takes a sync run, in the same transaction).
    synced: bool
    # How many reversals of its postings succeeded.
    reversals: int
    # Its legal entity as a posting on the day asked for reads it.
    legal_entity: LegalEntitySnapshot


async def read_after_lock(
    connection: AsyncConnection,
    invoice: InvoiceRow,
    *,
    on: date,
    workflow: str,
    reversal_workflow: str,
    sync_workflow: str,
) -> AfterLock:
    """The invoice's latest run of `workflow`, its customer with the customer's latest run of
    `sync_workflow`, its succeeded runs of `reversal_workflow`, and its legal entity as a
    posting on the day `on` reads it (`legal_entities.snapshot`), in one statement. Read
    after the invoice's lock is taken, so a posting that held it is seen as committed. By SQL
    Core in `connection`'s transaction (on the driver, `core.driver`): the run is built
    detached, not loaded into a session."""
    found = await rows(
        connection,
        _AFTER_LOCK,
        {
            "invoice_id": invoice.id,
            "customer_id": invoice.customer_id,
            "legal_entity_id": invoice.legal_entity_id,
            "on": on,
            "workflow": workflow,
            "reversal_workflow": reversal_workflow,
            "sync_workflow": sync_workflow,
        },
    )
    if not found:
        raise NotFound(
            f"no customer {invoice.customer_id} in legal entity {invoice.legal_entity_id}"
        )
    first = found[0]
    customer = PostedCustomer(*first[:_SYNC_STATUS_AT])
    run = first[_RUN_AT]
    sync_status = first[_SYNC_STATUS_AT]
    synced = customer.erp_ref is not None and sync_status in (None, RunStatus.SUCCEEDED)
    return AfterLock(
        run=None if run[0] is None else detached(WorkflowRunRow, _RUN_COLUMNS, run),
        customer=customer,
        synced=synced,
        reversals=first[_REVERSALS_AT],
        legal_entity=snapshot_of(invoice.legal_entity_id, found),
    )


async def posting_write(
    connection: AsyncConnection, invoice: InvoiceRow, deferred: Sequence[InvoiceLineRow]
) -> Write:
    """The invoice's move to `posting` (status and posting date, under its version check), as
    the caller set it on the (detached) row, for the engine to send with its next write
    (`Engine.hold`); its `deferred` lines' accounts are written now, by SQL Core. The invoice
    and its lines are left as written."""
    if deferred:
        await connection.execute(
            _DEFER_LINE,
            [{"line_id": line.id, "deferred_account": line.deferred_account} for line in deferred],
        )
        for line in deferred:
            set_committed_value(line, "deferred_account", line.deferred_account)
    write = versioned_write(invoice, ("status", "posting_date"))
    leave_written(invoice, write)
    return write
