"""`DocumentStream`: runs' documents go to the ERP a full request at a time as soon as one
is ready, each call side by side with those still in flight; a short group goes once no
expected run is on its way to a document; each run gets its own outcome."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import date

import pytest

from process_apis.posting_batches.documents import DocumentStream
from system_apis.erp.schemas import (
    ErpDocumentStatus,
    ErpInvoiceLine,
    ErpSalesInvoice,
    ErpSalesInvoiceCreate,
)
from system_apis.errors import BackendBusinessError, BackendError

DAY = date(2026, 12, 1)
COMPANY = "company-1"


def per_request(size: int) -> Callable[[str], Awaitable[int]]:
    async def size_of(company_id: str) -> int:
        assert company_id == COMPANY
        return size

    return size_of


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


class Erp:
    """Answers each call once `release` is set; documents numbered B are refused."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.release = asyncio.Event()

    async def send(
        self, company_id: str, documents: Sequence[ErpSalesInvoiceCreate]
    ) -> list[ErpSalesInvoice | BackendError]:
        assert company_id == COMPANY
        self.calls.append([d.external_document_number for d in documents])
        await self.release.wait()
        refused = BackendBusinessError("no", backend="erp", operation="batch")
        return [refused if d.external_document_number == "B" else posted(d) for d in documents]


async def run(stream: DocumentStream, run_id: str, number: str | None) -> ErpSalesInvoice | None:
    await stream.enter(run_id)
    try:
        return None if number is None else await stream.submit(run_id, COMPANY, document(number))
    finally:
        stream.done(run_id)


async def test_full_requests_go_at_once_and_side_by_side() -> None:
    erp = Erp()
    stream = DocumentStream(erp.send, per_request(2), places=asyncio.Semaphore(1))
    runs = ["A", "B", "C", "D", "E"]
    for number in runs:
        stream.expect(f"run-{number}")
    tasks = [asyncio.create_task(run(stream, f"run-{n}", n)) for n in runs]
    await asyncio.sleep(0.01)
    # two full requests sent while run-E is still expected, the second before the first
    # is answered; run-E's short group waits while they are in flight (their runs could
    # make room for more, and a short request would take a piece of the ERP's window)
    assert erp.calls == [["A", "B"], ["C", "D"]]
    erp.release.set()
    a, b, c, d, e = await asyncio.gather(*tasks, return_exceptions=True)
    assert erp.calls == [["A", "B"], ["C", "D"], ["E"]]
    assert isinstance(a, ErpSalesInvoice)
    assert a.number == "P-A"
    assert isinstance(b, BackendBusinessError)
    assert all(isinstance(outcome, ErpSalesInvoice) for outcome in (c, d, e))


async def test_a_short_group_waits_for_every_expected_run_to_hand_in_or_leave() -> None:
    erp = Erp()
    erp.release.set()
    stream = DocumentStream(erp.send, per_request(10), places=asyncio.Semaphore(1))
    for run_id in ("run-a", "run-b", "run-c"):
        stream.expect(run_id)
    first = asyncio.create_task(run(stream, "run-a", "A"))
    second = asyncio.create_task(run(stream, "run-b", "B"))
    await asyncio.sleep(0.01)
    assert erp.calls == []  # run-c has neither handed in nor left: nothing is sent yet
    left = asyncio.create_task(run(stream, "run-c", None))
    a = await first
    with pytest.raises(BackendBusinessError):
        await second
    assert await left is None
    assert erp.calls == [["A", "B"]]
    assert a is not None
    assert a.number == "P-A"


async def test_a_run_cancelled_while_it_waits_leaves_the_others_their_outcomes() -> None:
    erp = Erp()
    stream = DocumentStream(erp.send, per_request(2), places=asyncio.Semaphore(2))
    for number in ("A", "C", "D"):
        stream.expect(f"run-{number}")
    first, cancelled = (asyncio.create_task(run(stream, f"run-{n}", n)) for n in ("A", "C"))
    await asyncio.sleep(0.01)
    cancelled.cancel()  # a shutdown, while its group is with the ERP
    erp.release.set()
    a = await first
    assert a is not None
    assert a.number == "P-A"
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    # the stream goes on: the group's call was counted out, so the next run is sent alone
    d = await asyncio.wait_for(run(stream, "run-D", "D"), timeout=2)
    assert d is not None
    assert erp.calls == [["A", "C"], ["D"]]
