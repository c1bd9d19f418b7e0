"""The Business Central adapter against the BC sandbox, in process, over real HTTP framing."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from sandboxes.demo_estate import closed_period, first_open_day
from system_apis.erp.adapters.business_central import BusinessCentralAdapter
from system_apis.erp.mapping import sales_invoice_to_bc, sales_line_to_bc
from system_apis.erp.schemas import (
    ErpCompany,
    ErpDocumentStatus,
    ErpInvoiceLine,
)
from system_apis.errors import (
    BackendBusinessError,
    BackendContractError,
    BackendNotFound,
    BackendTransientError,
)
from system_apis.http import ResilientClient
from tests.support.business_central import (
    BC_BASE_URL,
    DE,
    FAST_SETTINGS,
    US,
    BcHarness,
    bc_harness,
    invoice_request,
)
from tests.system_apis.erp.harness import CUSTOMER


async def test_get_company_maps_name_and_display_name(bc: BcHarness) -> None:
    company = await bc.adapter.get_company(US.id)

    assert company == ErpCompany(id=US.id, name=US.code, display_name=US.name)


async def test_list_tax_codes_returns_the_company_tax_groups(bc: BcHarness) -> None:
    assert await bc.adapter.list_tax_codes(US.id) == frozenset(US.tax_codes)
    assert await bc.adapter.list_tax_codes(DE.id) == frozenset(DE.tax_codes)


async def test_upsert_customer_creates_then_leaves_an_unchanged_customer_alone() -> None:
    bc = bc_harness()

    created = await bc.adapter.upsert_customer(US.id, CUSTOMER)
    again = await bc.adapter.upsert_customer(US.id, CUSTOMER)

    assert created == again
    assert (created.number, created.display_name, created.currency) == ("C0001", "Acme Corp", "USD")
    assert len(bc.requests("POST", "/customers")) == 1
    assert bc.requests("PATCH", f"/customers({created.id})") == []
    assert len(bc.state.books[US.id].customers) == 1


class RacedTransport(httpx.AsyncBaseTransport):
    """Lets a concurrent caller's identical customer create reach the ERP first, once."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.raced = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self.raced and request.method == "POST" and request.url.path.endswith("/customers"):
            self.raced = True
            other = httpx.Request(
                request.method, request.url, headers=request.headers, content=request.content
            )
            assert (await self.inner.handle_async_request(other)).status_code == 201
        return await self.inner.handle_async_request(request)


async def test_upsert_customer_carries_on_with_a_customer_created_concurrently() -> None:
    bc = bc_harness()
    adapter = BusinessCentralAdapter(
        ResilientClient(
            backend="erp",
            base_url=BC_BASE_URL,
            settings=FAST_SETTINGS,
            transport=RacedTransport(bc.recording),
        )
    )

    customer = await adapter.upsert_customer(US.id, CUSTOMER)

    (stored,) = bc.state.books[US.id].customers.values()
    assert (customer.id, customer.number) == (stored.id, "C0001")
    posts = [e.response.status_code for e in bc.recording.exchanges if e.request.method == "POST"]
    assert posts == [201, 400]  # ours was refused: the number was taken a moment before


async def test_upsert_customer_patches_changes_with_the_current_etag(bc: BcHarness) -> None:
    stored = next(iter(bc.state.books[US.id].customers.values()))
    etag_before = stored.etag

    updated = await bc.adapter.upsert_customer(
        US.id, CUSTOMER.model_copy(update={"display_name": "Acme Corporation", "email": None})
    )

    (patch,) = bc.requests("PATCH", f"/customers({updated.id})")
    assert patch.headers["If-Match"] == etag_before
    assert updated.display_name == "Acme Corporation"
    assert (stored.display_name, stored.email) == ("Acme Corporation", "")
    assert stored.etag != etag_before


async def test_upsert_customer_surfaces_a_concurrent_change_as_a_business_error(
    bc: BcHarness,
) -> None:
    stored = next(iter(bc.state.books[US.id].customers.values()))

    def someone_else_edits_first(request: httpx.Request) -> bool:
        if request.method == "PATCH":
            stored.version += 1
        return False

    bc.faults.matches = someone_else_edits_first
    with pytest.raises(BackendBusinessError) as caught:
        await bc.adapter.upsert_customer(
            US.id, CUSTOMER.model_copy(update={"display_name": "Acme Two"})
        )

    assert caught.value.vendor_status == 412
    assert caught.value.vendor_code == "Request_EntityChanged"
    assert stored.display_name == "Acme Corp"


async def test_create_sales_invoice_creates_header_and_lines_with_bc_totals(
    bc: BcHarness,
) -> None:
    invoice = await bc.adapter.create_sales_invoice(US.id, invoice_request("inv_001"))

    assert invoice.status is ErpDocumentStatus.DRAFT
    assert (invoice.external_document_number, invoice.customer_number) == ("inv_001", "C0001")
    assert invoice.posting_date == first_open_day()
    assert invoice.line_count == 2
    # 2 x 19.99 at 8.875 % = 39.98 + 3.55 tax; 100.00 exempt.
    assert (invoice.total_excluding_tax, invoice.total_tax, invoice.total_including_tax) == (
        13998,
        355,
        14353,
    )
    (header,) = bc.requests("POST", "/salesInvoices")
    assert b'"invoiceDate":"' in header.content


async def test_create_sales_invoice_twice_yields_one_document(bc: BcHarness) -> None:
    first = await bc.adapter.create_sales_invoice(US.id, invoice_request("inv_002"))
    second = await bc.adapter.create_sales_invoice(US.id, invoice_request("inv_002"))

    assert second == first
    assert bc.state.document_count(US.id, "inv_002") == 1
    (insert,) = bc.requests("POST", "/salesInvoices")
    assert [line["sequence"] for line in json.loads(insert.content)["salesInvoiceLines"]] == [1, 2]
    assert bc.requests("POST", "/salesInvoiceLines") == []


async def test_a_draft_left_with_some_of_its_lines_is_completed_without_duplicates(
    bc: BcHarness,
) -> None:
    # As a client adding lines one by one leaves a draft when it stops after the first.
    request = invoice_request("inv_003")
    raw = httpx.AsyncClient(
        transport=bc.recording,
        base_url=BC_BASE_URL,
        headers={"Authorization": "Bearer sandbox-token"},
    )
    async with raw:
        invoices = f"/companies({US.id})/salesInvoices"
        header = sales_invoice_to_bc(request).model_dump(mode="json", by_alias=True)
        created = (await raw.post(invoices, json=header)).json()
        line = sales_line_to_bc(request.lines[0], request.currency)
        first = line.model_dump(mode="json", by_alias=True, exclude_none=True)
        answer = await raw.post(f"{invoices}({created['id']})/salesInvoiceLines", json=first)
        assert answer.status_code == 201, answer.text
    (draft,) = bc.state.books[US.id].invoices.values()
    assert [line.sequence for line in draft.lines] == [1]

    invoice = await bc.adapter.create_sales_invoice(US.id, request)

    assert invoice.line_count == 2
    assert [line.sequence for line in draft.lines] == [1, 2]
    assert bc.state.document_count(US.id, "inv_003") == 1


async def test_a_lost_answer_to_the_header_create_is_not_retried_blindly(bc: BcHarness) -> None:
    bc.faults.matches = lambda r: r.method == "POST" and r.url.path.endswith("/salesInvoices")
    bc.faults.after_forwarding = True
    with pytest.raises(BackendTransientError):
        await bc.adapter.create_sales_invoice(US.id, invoice_request("inv_004"))
    assert len(bc.faults.failed) == 1

    invoice = await bc.adapter.create_sales_invoice(US.id, invoice_request("inv_004"))

    assert invoice.line_count == 2
    assert bc.state.document_count(US.id, "inv_004") == 1


async def test_find_sales_invoice(bc: BcHarness) -> None:
    assert await bc.adapter.find_sales_invoice(US.id, "inv_005") is None
    created = await bc.adapter.create_sales_invoice(US.id, invoice_request("inv_005"))

    assert await bc.adapter.find_sales_invoice(US.id, "inv_005") == created


async def test_external_document_numbers_with_quotes_are_escaped(bc: BcHarness) -> None:
    created = await bc.adapter.create_sales_invoice(US.id, invoice_request("inv_'quoted'"))

    assert await bc.adapter.find_sales_invoice(US.id, "inv_'quoted'") == created


async def test_post_sales_invoice_posts_once(bc: BcHarness) -> None:
    draft = await bc.adapter.create_sales_invoice(US.id, invoice_request("inv_006"))

    posted = await bc.adapter.post_sales_invoice(US.id, draft.id)
    again = await bc.adapter.post_sales_invoice(US.id, draft.id)

    assert posted.status is ErpDocumentStatus.POSTED
    assert posted.number == "PS-INV103001"
    assert again == posted
    assert len(bc.batched("POST", "/Microsoft.NAV.post")) == 1
    assert [i.number for i in bc.state.posted_invoices(US.id)] == [posted.number]


async def test_a_known_draft_is_posted_and_read_back_in_one_round_trip(bc: BcHarness) -> None:
    draft = await bc.adapter.create_sales_invoice(US.id, invoice_request("inv_006"))
    bc.recording.exchanges.clear()

    posted = await bc.adapter.post_sales_invoice(US.id, draft.id, known_draft=True)

    assert [e.request.url.path.rsplit("/", 1)[-1] for e in bc.recording.exchanges] == ["$batch"]
    assert [op["method"] for op in bc.batched("POST", "/Microsoft.NAV.post")] == ["POST"]
    assert posted.status is ErpDocumentStatus.POSTED
    assert posted.number == "PS-INV103001"
    assert posted == await bc.adapter.get_sales_invoice(US.id, draft.id)


async def test_a_new_invoice_is_posted_in_two_requests_whatever_its_lines(
    bc: BcHarness,
) -> None:
    seats = tuple(
        ErpInvoiceLine(
            sequence=n, description=f"Seat {n}", quantity=1, unit_price=1000, tax_code="EXEMPT"
        )
        for n in range(1, 6)
    )
    invoice = invoice_request("inv_many", lines=seats)

    draft = await bc.adapter.create_sales_invoice(US.id, invoice, known_absent=True)
    posted = await bc.adapter.post_sales_invoice(US.id, draft.id, known_draft=True)

    paths = [e.request.url.path.rsplit("/", 1)[-1] for e in bc.recording.exchanges]
    assert paths == ["salesInvoices", "$batch"]  # the deep insert; the post and its read
    assert draft.line_count == posted.line_count == 5
    assert posted.total_including_tax == 5000


async def test_a_new_invoice_is_created_posted_and_read_in_one_batch(bc: BcHarness) -> None:
    posted = await bc.adapter.post_new_sales_invoice(US.id, invoice_request("inv_one"))

    (batch,) = bc.recording.exchanges  # one request to BC
    operations = json.loads(batch.request.content)["requests"]
    assert [(op["method"], op.get("dependsOn")) for op in operations] == [
        ("POST", None),  # the deep insert
        ("POST", [operations[0]["id"]]),  # its post
        ("GET", [operations[1]["id"]]),  # the read of what it posted
    ]
    assert posted.status is ErpDocumentStatus.POSTED
    assert posted.line_count == 2
    assert posted == await bc.adapter.find_sales_invoice(US.id, "inv_one")


async def test_a_new_invoice_whose_post_is_refused_is_left_a_draft(bc: BcHarness) -> None:
    with pytest.raises(BackendBusinessError) as caught:
        await bc.adapter.post_new_sales_invoice(US.id, invoice_request("inv_none", lines=()))

    assert "There is nothing to post." in str(caught.value)
    (draft,) = bc.state.books[US.id].invoices.values()
    assert (draft.external_document_number, draft.status) == ("inv_none", "Draft")


async def test_a_new_invoice_whose_insert_is_refused_creates_nothing(bc: BcHarness) -> None:
    line = ErpInvoiceLine(sequence=1, description="Seat", quantity=1, unit_price=5, tax_code="NO")

    with pytest.raises(BackendBusinessError):
        await bc.adapter.post_new_sales_invoice(US.id, invoice_request("inv_no", lines=(line,)))

    assert bc.state.document_count(US.id, "inv_no") == 0


async def test_the_posted_documents_read_is_validated_as_batch_answered_it(
    bc: BcHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The read in the `$batch` answer is validated as it came, not first wrapped in a
    response of its own (about 120 calls a posting)."""
    draft = await bc.adapter.create_sales_invoice(US.id, invoice_request("inv_006"))
    wrapped: list[object] = []
    build = httpx.Response.__init__

    def counted(response: httpx.Response, status_code: int, **kwargs: Any) -> None:
        if "json" in kwargs:  # not a transport's answer: a body wrapped
            wrapped.append(kwargs["json"])
        build(response, status_code, **kwargs)

    monkeypatch.setattr(httpx.Response, "__init__", counted)
    posted = await bc.adapter.post_sales_invoice(US.id, draft.id, known_draft=True)
    monkeypatch.undo()

    assert wrapped == []
    assert posted == await bc.adapter.get_sales_invoice(US.id, draft.id)


class SpoiledRead(httpx.AsyncBaseTransport):
    """Forwards everything; in a `$batch` answer, replaces the read's answer with `read`
    (None: the read is left out), or the whole answer with `whole`."""

    def __init__(
        self, inner: httpx.AsyncBaseTransport, *, read: dict[str, object] | None, whole: bytes = b""
    ) -> None:
        self.inner = inner
        self.read = read
        self.whole = whole

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if not request.url.path.endswith("/$batch"):
            return response
        if self.whole:
            return httpx.Response(200, content=self.whole, request=request)
        answers = json.loads(await response.aread())["responses"]
        kept = [a for a in answers if a["id"] != "read"]
        if self.read is not None:
            kept.append({"id": "read", **self.read})
        return httpx.Response(200, json={"responses": kept}, request=request)


@pytest.mark.parametrize(
    ("read", "whole"),
    [
        pytest.param({"status": 503, "body": "injected fault"}, b"", id="read-failed"),
        pytest.param(None, b"", id="read-missing"),
        pytest.param(None, b'{"value": [{"id": ', id="answer-unreadable"),
    ],
)
async def test_a_batch_answer_without_the_read_is_followed_by_a_read_alone(
    bc: BcHarness, read: dict[str, object] | None, whole: bytes
) -> None:
    draft = await bc.adapter.create_sales_invoice(US.id, invoice_request("inv_006"))
    bc.faults.inner = SpoiledRead(bc.recording, read=read, whole=whole)
    bc.recording.exchanges.clear()

    posted = await bc.adapter.post_sales_invoice(US.id, draft.id, known_draft=True)

    assert posted.status is ErpDocumentStatus.POSTED
    assert posted.number == "PS-INV103001"
    assert [
        (e.request.method, e.request.url.path.rsplit("/", 1)[-1]) for e in bc.recording.exchanges
    ] == [
        ("POST", "$batch"),
        ("GET", f"salesInvoices({draft.id})"),
    ]
    assert len(bc.state.posted_invoices(US.id)) == 1


async def test_a_lost_batch_answer_is_not_posted_again_on_retry(bc: BcHarness) -> None:
    draft = await bc.adapter.create_sales_invoice(US.id, invoice_request("inv_006"))
    bc.faults.matches = lambda r: r.url.path.endswith("/$batch")
    bc.faults.after_forwarding = True

    with pytest.raises(BackendTransientError):
        await bc.adapter.post_sales_invoice(US.id, draft.id, known_draft=True)
    retried = await bc.adapter.create_sales_invoice(US.id, invoice_request("inv_006"))
    posted = await bc.adapter.post_sales_invoice(US.id, retried.id)

    assert (retried.status, posted.status) == (ErpDocumentStatus.POSTED, ErpDocumentStatus.POSTED)
    assert len(bc.batched("POST", "/Microsoft.NAV.post")) == 1
    assert [i.number for i in bc.state.posted_invoices(US.id)] == [posted.number]


async def test_create_after_posting_returns_the_posted_document(bc: BcHarness) -> None:
    draft = await bc.adapter.create_sales_invoice(US.id, invoice_request("inv_007"))
    posted = await bc.adapter.post_sales_invoice(US.id, draft.id)

    assert await bc.adapter.create_sales_invoice(US.id, invoice_request("inv_007")) == posted
    assert bc.state.document_count(US.id, "inv_007") == 1


async def test_closed_period_is_refused_with_the_bc_code_and_message(bc: BcHarness) -> None:
    closed_day, _ = closed_period()
    draft = await bc.adapter.create_sales_invoice(
        US.id, invoice_request("inv_008", posting_date=closed_day)
    )

    with pytest.raises(BackendBusinessError) as caught:
        await bc.adapter.post_sales_invoice(US.id, draft.id)

    assert caught.value.vendor_status == 400
    assert caught.value.vendor_code == "Application_DialogException"
    assert "Posting Date is not within your range of allowed posting dates." in str(caught.value)
    assert bc.state.posted_invoices(US.id) == []


async def test_a_retry_with_a_rolled_forward_date_moves_the_draft_and_posts(
    bc: BcHarness,
) -> None:
    closed_day, _ = closed_period()
    draft = await bc.adapter.create_sales_invoice(
        US.id, invoice_request("inv_009", posting_date=closed_day)
    )
    etag = bc.state.books[US.id].invoices[draft.id].etag

    moved = await bc.adapter.create_sales_invoice(US.id, invoice_request("inv_009"))
    posted = await bc.adapter.post_sales_invoice(US.id, moved.id)

    (patch,) = bc.requests("PATCH", f"/salesInvoices({draft.id})")
    assert patch.headers["If-Match"] == etag
    assert moved.id == draft.id
    assert posted.posting_date == first_open_day()
    assert posted.status is ErpDocumentStatus.POSTED


async def test_unknown_tax_code_is_a_business_error(bc: BcHarness) -> None:
    request = invoice_request(
        "inv_010",
        lines=(
            ErpInvoiceLine(
                sequence=1, description="Seat", quantity=1, unit_price=500, tax_code="REDUCED"
            ),
        ),
    )

    with pytest.raises(BackendBusinessError) as caught:
        await bc.adapter.create_sales_invoice(US.id, request)

    assert caught.value.vendor_code == "Internal_InvalidTableRelation"
    assert "Tax Group" in str(caught.value)
    assert bc.state.document_count(US.id, "inv_010") == 0  # the deep insert created nothing


async def test_posting_a_draft_without_lines_is_a_business_error(bc: BcHarness) -> None:
    draft = await bc.adapter.create_sales_invoice(US.id, invoice_request("inv_011", lines=()))

    with pytest.raises(BackendBusinessError) as caught:
        await bc.adapter.post_sales_invoice(US.id, draft.id)

    assert caught.value.vendor_code == "Application_DialogException"
    assert "There is nothing to post." in str(caught.value)


async def test_unknown_customer_is_a_business_error(bc: BcHarness) -> None:
    with pytest.raises(BackendBusinessError) as caught:
        await bc.adapter.create_sales_invoice(
            US.id, invoice_request("inv_012", customer_number="C9999")
        )

    assert caught.value.vendor_code == "Internal_RecordNotFound"


async def test_unknown_company_is_not_found(bc: BcHarness) -> None:
    unknown = "00000000-0000-4000-8000-00000000dead"

    with pytest.raises(BackendNotFound) as caught:
        await bc.adapter.get_company(unknown)

    assert caught.value.vendor_code == "Internal_CompanyNotFound"
    assert caught.value.vendor_status == 404


def _adapter_answering(status: int, content: bytes) -> BusinessCentralAdapter:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=content, headers={"content-type": "application/json"})

    client = ResilientClient(
        backend="erp",
        base_url=BC_BASE_URL,
        settings=FAST_SETTINGS,
        transport=httpx.MockTransport(answer),
    )
    return BusinessCentralAdapter(client)


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"<html>gateway</html>", id="not-json"),
        pytest.param(b'{"value": "nope"}', id="wrong-shape"),
        pytest.param(b'{"value": [{"id": "x"}]}', id="missing-fields"),
    ],
)
async def test_a_body_outside_the_contract_is_a_contract_error(content: bytes) -> None:
    with pytest.raises(BackendContractError):
        await _adapter_answering(200, content).list_tax_codes(US.id)


async def test_an_amount_finer_than_the_currency_is_a_contract_error() -> None:
    body = (
        b'{"value": [{"@odata.etag": "W/\\"1\\"", "id": "i1", "status": "Draft",'
        b' "currencyCode": "USD", "totalAmountExcludingTax": 1.005, "totalTaxAmount": 0,'
        b' "totalAmountIncludingTax": 1.005, "salesInvoiceLines": []}]}'
    )

    with pytest.raises(BackendContractError):
        await _adapter_answering(200, body).find_sales_invoice(US.id, "inv_x")


@pytest.mark.parametrize(
    ("lookup", "records"),
    [
        ("find_sales_invoice", "sales invoices"),
        ("find_sales_credit_memo", "sales credit memos"),
        ("find_sales_order", "sales orders"),
    ],
)
async def test_two_documents_with_our_number_are_a_business_error(
    lookup: str, records: str
) -> None:
    document = (
        b'{"@odata.etag": "W/\\"1\\"", "id": "d1", "status": "Draft", "currencyCode": "USD",'
        b' "totalAmountExcludingTax": 1, "totalTaxAmount": 0,'
        b' "totalAmountIncludingTax": 1, "remainingAmount": 0}'
    )
    adapter = _adapter_answering(200, b'{"value": [' + document + b", " + document + b"]}")

    with pytest.raises(BackendBusinessError) as caught:
        await getattr(adapter, lookup)(US.id, "doc_1")

    assert f"holds 2 {records} with externalDocumentNumber 'doc_1'" in str(caught.value)


async def test_an_error_without_a_bc_body_is_still_classified() -> None:
    with pytest.raises(BackendBusinessError) as caught:
        await _adapter_answering(400, b"Bad Request").get_company(US.id)

    assert caught.value.vendor_code is None
    assert caught.value.vendor_status == 400
