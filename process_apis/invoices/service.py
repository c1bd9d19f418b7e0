"""Invoice registration, reads, and the entry to their posting."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core.canonical.documents import InvoiceCreate, InvoiceStatus
from core.canonical.parties import CustomerStatus
from core.ids import new_id
from core.metrics import ORDER_TO_INVOICE
from core.models.base import utcnow
from core.models.customer import CustomerRow
from core.models.invoice import InvoiceLineRow, InvoiceRow
from core.models.subscription import SubscriptionRow
from core.pagination import Page
from events.attribution import customer_partner
from events.outbox import record
from events.schemas import invoice as invoice_events
from process_apis.deps import Caller, ProcessContext
from process_apis.errors import CustomerNotActive, UnknownReference
from process_apis.idempotency import Closing, Opening
from process_apis.invoices.credit import credit_of
from process_apis.invoices.errors import CurrencyMismatch
from process_apis.invoices.schemas import (
    InvoiceResource,
    PostingCreate,
    PostingResult,
    VoidCreate,
    VoidResult,
)
from process_apis.invoices.void import InvoiceVoidWorkflow
from process_apis.invoices.workflow import WORKFLOW, InvoicePostingWorkflow
from process_apis.listing import ListQuery, list_rows
from process_apis.lookups import get_invoice
from process_apis.runs.repository import latest_run, latest_runs
from process_apis.runs.schemas import RunSummary


async def create_invoice(session: AsyncSession, *, data: InvoiceCreate) -> InvoiceRow:
    """Register an invoice for a known, active customer in the customer's currency.

    An invoice for a subscription names one of the customer's; the first one records
    the subscription's order-to-invoice latency.
    """
    customer = await session.get(CustomerRow, data.customer_id)
    if customer is None:
        raise UnknownReference(f"no customer {data.customer_id}", pointer="#/customer_id")
    if customer.status != CustomerStatus.ACTIVE:
        raise CustomerNotActive(f"customer {customer.id} is {customer.status}")
    if data.currency != customer.currency:
        raise CurrencyMismatch(
            f"invoice in {data.currency} for a customer billed in {customer.currency}",
            pointer="#/currency",
        )
    first_of: SubscriptionRow | None = None
    if data.subscription_id is not None:
        subscription = await session.get(SubscriptionRow, data.subscription_id)
        if subscription is None or subscription.customer_id != customer.id:
            raise UnknownReference(
                f"customer {customer.id} has no subscription {data.subscription_id}",
                pointer="#/subscription_id",
            )
        invoiced = await session.scalar(
            select(exists().where(InvoiceRow.subscription_id == subscription.id))
        )
        first_of = None if invoiced else subscription
    invoice = InvoiceRow(
        id=new_id("invoice"),
        customer_id=customer.id,
        legal_entity_id=customer.legal_entity_id,
        subscription_id=data.subscription_id,
        currency=data.currency,
        invoice_date=data.invoice_date,
        due_date=data.due_date,
        subtotal=data.subtotal,
        tax_total=data.tax_total,
        total=data.total,
        status=InvoiceStatus.OPEN,
        lines=[
            InvoiceLineRow(
                id=new_id("invoice_line"),
                sequence=sequence,
                description=line.description,
                quantity=line.quantity,
                unit_amount=line.unit_amount,
                amount=line.amount,
                tax_code=line.tax_code,
                tax_amount=line.tax_amount,
                product_id=line.product_id,
                service_period_start=line.service_period_start,
                service_period_end=line.service_period_end,
            )
            for sequence, line in enumerate(data.lines, start=1)
        ],
    )
    session.add(invoice)
    await session.flush()
    partner_id = await customer_partner(session, invoice.customer_id)
    await record(session, invoice_events.registered(invoice, partner_id=partner_id))
    if first_of is not None:
        ORDER_TO_INVOICE.observe((utcnow() - first_of.created_at).total_seconds())
    return invoice


async def get_invoice_resource(session: AsyncSession, invoice_id: str) -> InvoiceResource:
    """The invoice, its lines, its posting acknowledgement, its latest posting run and its
    credits."""
    invoice = await get_invoice(session, invoice_id)
    run = await latest_run(session, workflow=WORKFLOW, subject_id=invoice_id)
    last_run = RunSummary.model_validate(run) if run is not None else None
    credit = await credit_of(session, [invoice])
    return InvoiceResource.model_validate(invoice).model_copy(
        update={"last_run": last_run, "credit": credit[invoice.id]}
    )


async def list_invoices(
    session: AsyncSession,
    *,
    listing: ListQuery,
    status: InvoiceStatus | None = None,
    customer_id: str | None = None,
    subscription_id: str | None = None,
) -> Page[InvoiceResource]:
    """A page of invoices, newest first, each with its latest posting run."""
    rows, cursor = await list_rows(
        session,
        select(InvoiceRow).options(selectinload(InvoiceRow.lines)),
        InvoiceRow.id,
        listing,
        date_column=InvoiceRow.invoice_date,
        updated_column=InvoiceRow.updated_at,
        legal_entity_column=InvoiceRow.legal_entity_id,
        equal={
            InvoiceRow.status: status,
            InvoiceRow.customer_id: customer_id,
            InvoiceRow.subscription_id: subscription_id,
        },
    )
    runs = await latest_runs(session, workflow=WORKFLOW, subject_ids=[row.id for row in rows])
    credit = await credit_of(session, rows)
    items = [
        InvoiceResource.model_validate(row).model_copy(
            update={
                "last_run": RunSummary.model_validate(runs[row.id]) if row.id in runs else None,
                "credit": credit[row.id],
            }
        )
        for row in rows
    ]
    return Page[InvoiceResource](items=items, next_cursor=cursor)


async def register_invoice(session: AsyncSession, *, data: InvoiceCreate) -> InvoiceResource:
    """`create_invoice`, answered as the resource a caller reads back."""
    invoice = await create_invoice(session, data=data)
    return await get_invoice_resource(session, invoice.id)


def post_invoice(
    context: ProcessContext,
    *,
    invoice_id: str,
    request: PostingCreate,
    caller: Caller,
    opening: Opening | None = None,
    closing: Closing | None = None,
) -> Coroutine[Any, Any, PostingResult]:
    """Post the invoice to the ERP (every API version's one entry to the posting workflow);
    `opening`: the request's key claim, uncommitted, for the prepare transaction to join;
    `closing`: where the posting's recording transaction is handed over uncommitted. The
    workflow's coroutine itself is returned, not one around it resumed at its every wait."""
    return InvoicePostingWorkflow(context).post(
        invoice_id=invoice_id,
        request=request,
        client_id=caller.client_id,
        correlation_id=caller.correlation_id,
        principal=caller.principal,
        opening=opening,
        closing=closing,
    )


async def void_invoice(
    context: ProcessContext, *, invoice_id: str, request: VoidCreate, caller: Caller
) -> VoidResult:
    """Void an invoice that was never posted, here and in billing (every API version's entry)."""
    return await InvoiceVoidWorkflow(context).void(invoice_id, request, caller=caller)
