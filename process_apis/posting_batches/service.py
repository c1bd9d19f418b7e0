"""Accepting a posting batch and reading it back; the posting is `executor`'s."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.models.invoice import InvoiceRow
from core.models.posting_batch import ItemOutcome
from process_apis.deps import Caller
from process_apis.invoices.service import create_invoice
from process_apis.posting_batches import repository
from process_apis.posting_batches.errors import UnknownBatchInvoice
from process_apis.posting_batches.schemas import (
    PostingBatchCounts,
    PostingBatchCreate,
    PostingBatchItem,
    PostingBatchResource,
)
from process_apis.runs.schemas import run_url


async def accept(
    session: AsyncSession, *, data: PostingBatchCreate, caller: Caller
) -> PostingBatchResource:
    """Register the batch's new invoices, check its named ones, and queue it (the caller
    commits). Each invoice is held to the client's money limit for `invoices:post`."""
    if data.invoices is not None:
        invoices = [await create_invoice(session, data=invoice) for invoice in data.invoices]
    else:
        ids = data.invoice_ids or []
        found = {
            row.id: row
            for row in await session.scalars(select(InvoiceRow).where(InvoiceRow.id.in_(ids)))
        }
        for position, invoice_id in enumerate(ids):
            if invoice_id not in found:
                raise UnknownBatchInvoice(
                    f"no invoice {invoice_id}", pointer=f"#/invoice_ids/{position}"
                )
        invoices = [found[invoice_id] for invoice_id in ids]
    for invoice in invoices:
        caller.principal.check_money_limit(
            "invoices:post", amount=invoice.total, currency=invoice.currency
        )
    batch = await repository.add_batch(
        session,
        [invoice.id for invoice in invoices],
        client_id=caller.client_id,
        correlation_id=caller.correlation_id,
    )
    await session.flush()
    return await resource(session, batch.id)


async def resource(session: AsyncSession, batch_id: str) -> PostingBatchResource:
    batch = await repository.get_batch(session, batch_id)
    items = await repository.batch_items(session, batch_id)
    counts = Counter(ItemOutcome(item.outcome) for item in items)
    return PostingBatchResource(
        id=batch.id,
        status=batch.status,
        created_at=batch.created_at,
        finished_at=batch.finished_at,
        counts=PostingBatchCounts(**{outcome.value: counts[outcome] for outcome in ItemOutcome}),
        items=[
            PostingBatchItem(
                invoice_id=item.invoice_id,
                outcome=item.outcome,
                run_id=item.run_id,
                run_url=run_url(item.run_id) if item.run_id else None,
                error_type=item.error_type,
                error_detail=item.error_detail,
            )
            for item in items
        ],
    )
