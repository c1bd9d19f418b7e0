"""Business Central's bulk posting: two operations a document in the `$batch`, and the
posted documents read back together afterwards, counted by the sandbox."""

from __future__ import annotations

import httpx
import pytest

from sandboxes.limits import LIMITS_PATH
from system_apis.erp.adapters.business_central_bulk import (
    DOCUMENTS_PER_READ,
    MAX_QUERY_LENGTH,
    READ_OPTIONS,
    read_filters,
)
from system_apis.erp.schemas import ErpDocumentStatus, ErpSalesInvoice
from system_apis.errors import BackendBusinessError, BackendTransientError
from tests.support.business_central import US, BcHarness, invoice_request
from tests.system_apis.erp.test_port_bulk import UNKNOWN_TAX


async def served(bc: BcHarness) -> int:
    """The operations the sandbox has served so far, as its limits count them."""
    async with httpx.AsyncClient(transport=bc.recording, base_url="http://erp.test") as sandbox:
        count: int = (await sandbox.get(LIMITS_PATH)).json()["served"]
    return count


def reads(bc: BcHarness) -> list[httpx.Request]:
    return [r for r in bc.requests("GET", "/salesInvoices") if "$filter" in str(r.url)]


@pytest.mark.parametrize(("documents", "read_requests"), [(10, 1), (30, 2)])
async def test_a_batch_costs_two_operations_a_document_and_a_read_per_25(
    bc: BcHarness, documents: int, read_requests: int
) -> None:
    await bc.adapter.post_new_sales_invoices(US.id, [invoice_request("warm-up")])  # accounts
    before = await served(bc)
    bc.recording.exchanges.clear()
    invoices = [invoice_request(f"BULK-{n}") for n in range(documents)]

    outcomes = await bc.adapter.post_new_sales_invoices(US.id, invoices)

    assert await served(bc) - before == 2 * documents + read_requests  # was 3 a document
    assert len(bc.requests("POST", "/$batch")) == 1
    assert len(reads(bc)) == read_requests
    for invoice, outcome in zip(invoices, outcomes, strict=True):
        assert isinstance(outcome, ErpSalesInvoice)
        assert outcome.external_document_number == invoice.external_document_number
        assert outcome.status is ErpDocumentStatus.POSTED
        assert outcome == await bc.adapter.get_sales_invoice(US.id, outcome.id)  # lines, totals
    assert len({o.number for o in outcomes if isinstance(o, ErpSalesInvoice)}) == documents


async def test_only_posted_documents_are_read_back(bc: BcHarness) -> None:
    invoices = [invoice_request("BULK-1"), invoice_request("BULK-2", lines=UNKNOWN_TAX)]

    posted, refused = await bc.adapter.post_new_sales_invoices(US.id, invoices)

    assert isinstance(posted, ErpSalesInvoice)
    assert isinstance(refused, BackendBusinessError)
    (read,) = reads(bc)
    assert "BULK-1" in str(read.url)
    assert "BULK-2" not in str(read.url)


class LostRead(httpx.AsyncBaseTransport):
    """Forwards everything; the read back of posted documents answers `503`, or leaves the
    document `dropped` out of its answer."""

    def __init__(self, inner: httpx.AsyncBaseTransport, dropped: str | None) -> None:
        self.inner = inner
        self.dropped = dropped

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method != "GET" or "$filter" not in str(request.url):
            return response
        if self.dropped is None:
            return httpx.Response(503, json={"error": {"code": "Unavailable", "message": "x"}})
        await response.aread()
        kept = [i for i in response.json()["value"] if i["externalDocumentNumber"] != self.dropped]
        return httpx.Response(200, json={"value": kept}, request=request)


@pytest.mark.parametrize("dropped", [None, "BULK-2"], ids=["read-failed", "read-lacks-one"])
async def test_a_posted_document_not_read_back_is_transient_and_found_posted_after(
    bc: BcHarness, dropped: str | None
) -> None:
    invoices = [invoice_request(f"BULK-{n}") for n in (1, 2, 3)]
    bc.faults.inner = LostRead(bc.recording, dropped)

    outcomes = await bc.adapter.post_new_sales_invoices(US.id, invoices)
    bc.faults.inner = bc.recording

    unread = ["BULK-1", "BULK-2", "BULK-3"] if dropped is None else [dropped]
    for invoice, outcome in zip(invoices, outcomes, strict=True):
        lost = invoice.external_document_number in unread
        assert isinstance(outcome, BackendTransientError if lost else ErpSalesInvoice)
    for external in unread:  # what a retry looks up first: the document, posted once
        found = await bc.adapter.find_sales_invoice(US.id, external)
        assert found is not None
        assert found.status is ErpDocumentStatus.POSTED
        assert bc.state.document_count(US.id, external) == 1
    assert len(bc.batched("POST", "/Microsoft.NAV.post")) == 3


def test_reads_are_cut_by_count_and_by_the_length_of_their_query() -> None:
    longest = [f"{n:035d}" for n in range(60)]
    quoted = ["'" * 30 + str(n) for n in range(20)]  # each quote doubled, then encoded

    by_count = read_filters(longest)
    by_length = read_filters(quoted)

    assert [f.count("%20or%20") + 1 for f in by_count] == [DOCUMENTS_PER_READ] * 2 + [10]
    assert len(by_length) > 1
    for where in by_count + by_length:
        assert len(f"$filter={where}{READ_OPTIONS}") <= MAX_QUERY_LENGTH
