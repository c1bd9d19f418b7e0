"""`DocumentBatch`: the documents of a chunk's runs go to the ERP in one call, once every
run has handed its document in or left, and each run gets its own outcome."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import date

import pytest

from process_apis.posting_batches.documents import DocumentBatch
from system_apis.erp.schemas import (
    ErpDocumentStatus,
    ErpInvoiceLine,
    ErpSalesInvoice,
    ErpSalesInvoiceCreate,
)
from system_apis.errors import BackendBusinessError, BackendError

DAY = date(2026, 12, 1)


def document(number: str) -> ErpSalesInvoiceCreate:
    line = ErpInvoiceLine(sequence=1, description="Seat", quantity=1, unit_price=100, tax_code="S")
    return ErpSalesInvoiceCreate(
        external_document_number=number,
        customer_number="C1",
        currency="USD",
        posting_date=DAY,
        due_date=DAY,
        lines=(line,),
    )


def posted(created: ErpSalesInvoiceCreate) -> ErpSalesInvoice:
    return ErpSalesInvoice(
        id=f"id-{created.external_document_number}",
        number=f"P-{created.external_document_number}",
        external_document_number=created.external_document_number,
        customer_number="C1",
        currency="USD",
        posting_date=DAY,
        status=ErpDocumentStatus.POSTED,
        line_count=1,
        total_excluding_tax=100,
        total_tax=0,
        total_including_tax=100,
        remaining_amount=100,
    )


async def test_one_call_once_every_run_has_handed_in_or_left() -> None:
    calls: list[list[str]] = []

    async def send(
        documents: Sequence[ErpSalesInvoiceCreate],
    ) -> list[ErpSalesInvoice | BackendError]:
        calls.append([d.external_document_number for d in documents])
        refused = BackendBusinessError("no", backend="erp", operation="batch")
        return [refused if d.external_document_number == "B" else posted(d) for d in documents]

    batch = DocumentBatch(send, ["run-a", "run-b", "run-c"], places=1)

    async def run(run_id: str, number: str | None) -> ErpSalesInvoice | None:
        await batch.enter(run_id)
        try:
            return None if number is None else await batch.submit(run_id, document(number))
        finally:
            batch.done(run_id)

    first = asyncio.create_task(run("run-a", "A"))
    second = asyncio.create_task(run("run-b", "B"))
    await asyncio.sleep(0.01)
    assert calls == []  # run-c has neither handed in nor left: nothing is sent yet
    left = asyncio.create_task(run("run-c", None))
    a = await first
    with pytest.raises(BackendBusinessError):
        await second
    assert await left is None
    assert calls == [["A", "B"]]
    assert a is not None
    assert a.number == "P-A"
