"""Wiring for Business Central tests: the adapter over the in-process sandbox, and faults."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import httpx

from app.core.settings import ErpSettings
from system_apis.erp.adapters.business_central import BusinessCentralAdapter
from system_apis.erp.schemas import ErpInvoiceLine, ErpSalesInvoiceCreate
from system_apis.http import ResilientClient
from system_apis.sandboxes.business_central import BusinessCentralState, create_app
from system_apis.sandboxes.demo_estate import DEMO_COMPANIES, first_open_day
from tests.support.recording import RecordingTransport

BC_BASE_PATH = "/v2.0/sandbox/api/v1.0"
BC_BASE_URL = f"https://api.businesscentral.dynamics.com{BC_BASE_PATH}"
BC_SPEC = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "vendor-specs"
    / "dynamics365-business-central-v1.0"
    / "openapi.yaml"
)
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


def bc_harness(state: BusinessCentralState | None = None) -> BcHarness:
    state = state or BusinessCentralState()
    recording = RecordingTransport(httpx.ASGITransport(app=create_app(state)))
    faults = FaultyTransport(recording)
    client = ResilientClient(
        backend="erp", base_url=BC_BASE_URL, settings=FAST_SETTINGS, transport=faults
    )
    return BcHarness(state, recording, faults, client, BusinessCentralAdapter(client))


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
