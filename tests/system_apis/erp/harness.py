"""Wiring for NetSuite tests: the adapter over the in-process NetSuite sandbox."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx

from sandboxes.netsuite import API_ROOT, SERVICE_ITEM_ID, NetSuiteState, create_app
from system_apis.erp.adapters.netsuite import NetSuiteAdapter
from system_apis.erp.port import ErpPort
from system_apis.erp.schemas import ErpCustomerUpsert
from system_apis.http import ResilientClient
from tests.support.business_central import (
    FAST_SETTINGS,
    US,
    BcHarness,
    FaultyTransport,
    bc_harness,
)
from tests.support.recording import RecordingTransport

NS_BASE_URL = f"https://1234567.suitetalk.api.netsuite.com{API_ROOT}"
CUSTOMER = ErpCustomerUpsert(
    number="C0001", display_name="Acme Corp", email="billing@acme.example", currency="USD"
)


@dataclass
class NsHarness:
    """A NetSuite sandbox, the transport that records what reaches it, and an adapter."""

    state: NetSuiteState
    recording: RecordingTransport
    faults: FaultyTransport
    adapter: NetSuiteAdapter

    @property
    def us_subsidiary(self) -> str:
        return self.state.subsidiary_id(US)

    def requests(self, method: str, path_suffix: str) -> list[httpx.Request]:
        return [
            e.request
            for e in self.recording.exchanges
            if e.request.method == method and e.request.url.path.endswith(path_suffix)
        ]


def netsuite_harness(state: NetSuiteState | None = None, *, page_size: int = 1000) -> NsHarness:
    state = state or NetSuiteState()
    recording = RecordingTransport(httpx.ASGITransport(app=create_app(state)))
    faults = FaultyTransport(recording)
    client = ResilientClient(
        backend="erp", base_url=NS_BASE_URL, settings=FAST_SETTINGS, transport=faults
    )
    adapter = NetSuiteAdapter(client, line_item_id=SERVICE_ITEM_ID, page_size=page_size)
    return NsHarness(state, recording, faults, adapter)


@dataclass
class Erp:
    """An adapter over its sandbox, as the port-level scenarios see it."""

    adapter: ErpPort
    company_id: str
    faults: FaultyTransport
    recording: RecordingTransport
    creates_invoice: Callable[[httpx.Request], bool]
    creates_payment: Callable[[httpx.Request], bool]
    document_count: Callable[[str], int]
    payment_count: Callable[[str], int]
    creates_reversal: Callable[[httpx.Request], bool]
    reversal_count: Callable[[str], int]
    """How many reversing entries carry this external document number."""
    # The vendor's block of a customer, by number: BC's `blocked`, NetSuite's credit hold.
    customer_block: Callable[[str], str]


def business_central(*, page_size: int = 100) -> Erp:
    bc = bc_harness(page_size=page_size)
    return Erp(
        adapter=bc.adapter,
        company_id=US.id,
        faults=bc.faults,
        recording=bc.recording,
        creates_invoice=lambda r: r.method == "POST" and r.url.path.endswith("/salesInvoices"),
        creates_payment=lambda r: r.method == "POST" and r.url.path.endswith("/customerPayments"),
        document_count=lambda external: bc.state.document_count(US.id, external),
        payment_count=lambda external: _bc_payment_lines(bc, external),
        creates_reversal=lambda r: r.method == "POST" and r.url.path.endswith("/customerPayments"),
        reversal_count=lambda external: _bc_payment_lines(bc, external),
        customer_block=lambda number: next(
            c.blocked for c in bc.state.books[US.id].customers.values() if c.number == number
        ),
    )


def _bc_payment_lines(bc: BcHarness, external: str) -> int:
    """The lines of BC's payment journals with this external document number."""
    return sum(
        payment.external_document_number == external
        for journal in bc.state.books[US.id].payment_journals.values()
        for payment in journal.payments
    )


def netsuite(*, page_size: int = 1000) -> Erp:
    ns = netsuite_harness(page_size=page_size)
    return Erp(
        adapter=ns.adapter,
        company_id=ns.us_subsidiary,
        faults=ns.faults,
        recording=ns.recording,
        creates_invoice=lambda r: r.method == "POST" and r.url.path.endswith("/invoice"),
        creates_payment=lambda r: r.method == "POST" and r.url.path.endswith("/customerPayment"),
        document_count=ns.state.invoice_count,
        payment_count=ns.state.payment_count,
        creates_reversal=lambda r: r.method == "POST" and r.url.path.endswith("/journalEntry"),
        reversal_count=ns.state.journal_entry_count,
        customer_block=lambda number: next(
            c.credit_hold for c in ns.state.customers.values() if c.external_id == number
        ),
    )


ERPS = {"business_central": business_central, "netsuite": netsuite}
"""Every ERP adapter over its sandbox, by kind."""
