"""Wiring for Business Central tests: the adapter over the in-process sandbox, and faults."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx

from core.settings import ErpSettings
from sandboxes.business_central import BusinessCentralState, create_app
from sandboxes.demo_estate import DEMO_COMPANIES, first_open_day
from system_apis.erp.adapters.business_central import BusinessCentralAdapter
from system_apis.erp.schemas import (
    ErpCustomerPaymentCreate,
    ErpInvoiceLine,
    ErpJournalCreate,
    ErpJournalEntryCreate,
    ErpJournalLine,
    ErpSalesCreditMemoCreate,
    ErpSalesInvoiceCreate,
)
from system_apis.http import ResilientClient
from tests.support.recording import Exchange, RecordingTransport

BC_BASE_PATH = "/v2.0/sandbox/api/v1.0"
BC_BASE_URL = f"https://api.businesscentral.dynamics.com{BC_BASE_PATH}"
BC_SPEC = "dynamics365-business-central-v1.0/openapi.yaml"
US, DE = DEMO_COMPANIES
FAST_SETTINGS = ErpSettings(retry_initial_backoff_seconds=0, retry_max_backoff_seconds=0)


@dataclass
class FaultyTransport(httpx.AsyncBaseTransport):
    """Forwards to `inner`, but fails the first request `matches` selects.

    `after_forwarding` decides whether the backend saw that request (the answer is
    lost) or not (the connection failed before it was sent).
    """

    inner: httpx.AsyncBaseTransport
    matches: Callable[[httpx.Request], bool] = lambda _request: False
    after_forwarding: bool = False
    failed: list[httpx.Request] = field(default_factory=list)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.failed or not self.matches(request):
            return await self.inner.handle_async_request(request)
        self.failed.append(request)
        if self.after_forwarding:
            await self.inner.handle_async_request(request)
            raise httpx.ReadError("connection reset while reading the answer", request=request)
        raise httpx.ConnectError("connection refused", request=request)


@dataclass
class BcHarness:
    """A sandbox, the transport that records what reaches it, and an adapter in front."""

    state: BusinessCentralState
    recording: RecordingTransport
    faults: FaultyTransport
    client: ResilientClient
    adapter: BusinessCentralAdapter

    def requests(self, method: str, path_suffix: str) -> list[httpx.Request]:
        return [
            e.request
            for e in self.recording.exchanges
            if e.request.method == method and e.request.url.path.endswith(path_suffix)
        ]

    def batched(self, method: str, path_suffix: str) -> list[dict[str, Any]]:
        """The operations of the `$batch` requests sent whose url (before any query) ends
        with `path_suffix`."""
        return [
            operation
            for request in self.requests("POST", "/$batch")
            for operation in json.loads(request.content)["requests"]
            if operation["method"] == method
            and operation["url"].partition("?")[0].endswith(path_suffix)
        ]


def bc_harness(state: BusinessCentralState | None = None, *, page_size: int = 100) -> BcHarness:
    state = state or BusinessCentralState()
    recording = RecordingTransport(httpx.ASGITransport(app=create_app(state)))
    faults = FaultyTransport(recording)
    client = ResilientClient(
        backend="erp", base_url=BC_BASE_URL, settings=FAST_SETTINGS, transport=faults
    )
    adapter = BusinessCentralAdapter(client, page_size=page_size)
    return BcHarness(state, recording, faults, client, adapter)


def invoice_request(
    external_document_number: str,
    *,
    customer_number: str = "C0001",
    currency: str = "USD",
    posting_date: date | None = None,
    lines: tuple[ErpInvoiceLine, ...] | None = None,
) -> ErpSalesInvoiceCreate:
    """A two-line invoice: 2 x 19.99 taxed STANDARD and 1 x 100.00 EXEMPT (US rates)."""
    posting = posting_date or first_open_day()
    return ErpSalesInvoiceCreate(
        external_document_number=external_document_number,
        customer_number=customer_number,
        currency=currency,
        posting_date=posting,
        due_date=posting.replace(day=28),
        lines=lines
        if lines is not None
        else (
            ErpInvoiceLine(
                sequence=1,
                description="Seat licence",
                quantity=2,
                unit_price=1999,
                tax_code="STANDARD",
            ),
            ErpInvoiceLine(
                sequence=2,
                description="Onboarding",
                quantity=1,
                unit_price=10000,
                tax_code="EXEMPT",
            ),
        ),
    )


SETTLEMENTS = ErpJournalCreate(code="SETTLE", display_name="Partner settlements")
PAYMENTS = ErpJournalCreate(
    code="PAYMENTS", display_name="Customer payments", balancing_account_number="10100"
)


def credit_memo_request(
    external_document_number: str,
    *,
    applies_to_invoice_id: str | None = None,
    posting_date: date | None = None,
    unit_price: int = 1999,
    customer_number: str = "C0001",
) -> ErpSalesCreditMemoCreate:
    """A one-line credit memo: 1 x `unit_price` taxed STANDARD (US rates)."""
    posting = posting_date or first_open_day()
    return ErpSalesCreditMemoCreate(
        external_document_number=external_document_number,
        customer_number=customer_number,
        currency="USD",
        posting_date=posting,
        due_date=posting.replace(day=28),
        applies_to_invoice_id=applies_to_invoice_id,
        lines=(
            ErpInvoiceLine(
                sequence=1,
                description="Seat licence refund",
                quantity=1,
                unit_price=unit_price,
                tax_code="STANDARD",
            ),
        ),
    )


def settlement_entry(
    document_number: str, *, amount: int = 2500, posting_date: date | None = None
) -> ErpJournalEntryCreate:
    """A balanced commission accrual: debit commissions expense, credit partner payable."""
    return ErpJournalEntryCreate(
        document_number=document_number,
        external_document_number=f"stl_{document_number}",
        posting_date=posting_date or first_open_day(),
        currency="USD",
        lines=(
            ErpJournalLine(account_number="60100", amount=amount, description="Commission"),
            ErpJournalLine(account_number="21500", amount=-amount, description="Commission"),
        ),
    )


def payment_request(
    external_document_number: str, invoice_id: str, amount: int, *, posting_date: date | None = None
) -> ErpCustomerPaymentCreate:
    return ErpCustomerPaymentCreate(
        external_document_number=external_document_number,
        customer_number="C0001",
        currency="USD",
        posting_date=posting_date or first_open_day(),
        amount=amount,
        applies_to_invoice_id=invoice_id,
        description="Card payment",
    )


def posts_document(request: httpx.Request, collection: str = "") -> bool:
    """Whether `request` posts a document (of `collection`, e.g. `salesCreditMemos`, when
    named): BC's `Microsoft.NAV.post` alone, or in a `$batch`."""
    path = request.url.path
    if request.method != "POST":
        return False
    if path.endswith("/Microsoft.NAV.post"):
        return f"/{collection}(" in path if collection else True
    if not path.endswith("/$batch"):
        return False
    return any(
        operation["url"].partition("?")[0].endswith("/Microsoft.NAV.post")
        and (f"{collection}(" in operation["url"] if collection else True)
        for operation in json.loads(request.content)["requests"]
    )


def unbatched(exchanges: list[Exchange]) -> list[Exchange]:
    """The exchanges with each OData JSON `$batch` replaced by its operations, each as the
    request it describes (its url against the API root, `$<id>` resolved to the entity the
    operation `<id>` created) and the answer BC gave it, so each can be judged on its own."""
    flat: list[Exchange] = []
    for exchange in exchanges:
        if not exchange.request.url.path.endswith("/$batch"):
            flat.append(exchange)
            continue
        root = str(exchange.request.url).removesuffix("/$batch")
        answers = {a["id"]: a for a in json.loads(exchange.response_body)["responses"]}
        created: dict[str, str] = {}
        for operation in json.loads(exchange.request_body)["requests"]:
            url: str = operation["url"]
            if url.startswith("$"):
                path, mark, query = url.partition("?")
                reference, _, rest = path[1:].partition("/")
                path = f"{created[reference]}/{rest}" if rest else created[reference]
                url = path + mark + query
            request = httpx.Request(
                operation["method"],
                f"{root}/{url}",
                headers=operation.get("headers"),
                json=operation.get("body"),
            )
            answer = answers[operation["id"]]
            content = b"" if answer["body"] is None else json.dumps(answer["body"]).encode()
            response = httpx.Response(answer["status"], headers=answer["headers"], content=content)
            if operation["method"] == "POST" and answer["status"] == 201:
                created[operation["id"]] = f"{url.partition('?')[0]}({answer['body']['id']})"
            flat.append(Exchange(request, request.read(), response, content))
    return flat
