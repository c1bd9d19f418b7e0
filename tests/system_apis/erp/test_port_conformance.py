"""One port-level scenario, run against every ERP adapter: the port is vendor-neutral.

Each adapter runs over its in-process sandbox. The scenario only speaks `ErpInvoicing`
(customer upsert; invoice create, find, post and read, each idempotent), so it holds
for the smaller NetSuite adapter as much as for Business Central.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest
import typing_extensions

from sandboxes.demo_estate import closed_period, first_open_day
from system_apis.erp.port import (
    ErpCatalog,
    ErpCreditMemos,
    ErpInvoiceQueries,
    ErpInvoicing,
    ErpJournals,
    ErpLedgerSetup,
    ErpPayments,
    ErpPort,
)
from system_apis.erp.schemas import ErpCustomerUpsert, ErpDocumentStatus
from system_apis.errors import BackendBusinessError, BackendTransientError
from tests.support.business_central import US, FaultyTransport, bc_harness, invoice_request
from tests.system_apis.erp.harness import netsuite_harness

CUSTOMER = ErpCustomerUpsert(
    number="C0001", display_name="Acme Corp", email="billing@acme.example", currency="USD"
)


@dataclass
class Erp:
    """An adapter over its sandbox, as the scenario sees it."""

    adapter: ErpInvoicing
    company_id: str
    faults: FaultyTransport
    creates_invoice: Callable[[httpx.Request], bool]
    document_count: Callable[[str], int]


def business_central() -> Erp:
    bc = bc_harness()
    return Erp(
        adapter=bc.adapter,
        company_id=US.id,
        faults=bc.faults,
        creates_invoice=lambda r: r.method == "POST" and r.url.path.endswith("/salesInvoices"),
        document_count=lambda external: bc.state.document_count(US.id, external),
    )


def netsuite() -> Erp:
    ns = netsuite_harness()
    return Erp(
        adapter=ns.adapter,
        company_id=ns.us_subsidiary,
        faults=ns.faults,
        creates_invoice=lambda r: r.method == "POST" and r.url.path.endswith("/invoice"),
        document_count=ns.state.invoice_count,
    )


@pytest.fixture(params=[business_central, netsuite], ids=["business_central", "netsuite"])
def erp(request: pytest.FixtureRequest) -> Erp:
    factory: Callable[[], Erp] = request.param
    return factory()


async def test_customer_upsert_creates_then_follows_changes(erp: Erp) -> None:
    created = await erp.adapter.upsert_customer(erp.company_id, CUSTOMER)
    again = await erp.adapter.upsert_customer(erp.company_id, CUSTOMER)
    renamed = await erp.adapter.upsert_customer(
        erp.company_id, CUSTOMER.model_copy(update={"display_name": "Acme Corporation"})
    )

    assert (created.number, created.display_name, created.currency) == ("C0001", "Acme Corp", "USD")
    assert again == created
    assert (renamed.id, renamed.display_name) == (created.id, "Acme Corporation")


async def test_an_invoice_is_created_found_and_posted_once(erp: Erp) -> None:
    company = erp.company_id
    await erp.adapter.upsert_customer(company, CUSTOMER)
    request = invoice_request("inv_port_1")
    assert await erp.adapter.find_sales_invoice(company, "inv_port_1") is None

    draft = await erp.adapter.create_sales_invoice(company, request)
    again = await erp.adapter.create_sales_invoice(company, request)
    found = await erp.adapter.find_sales_invoice(company, "inv_port_1")
    posted = await erp.adapter.post_sales_invoice(company, draft.id)
    reposted = await erp.adapter.post_sales_invoice(company, draft.id)
    recreated = await erp.adapter.create_sales_invoice(company, request)

    assert draft == again == found
    assert draft.status is ErpDocumentStatus.DRAFT
    assert (draft.external_document_number, draft.customer_number, draft.currency) == (
        "inv_port_1",
        "C0001",
        "USD",
    )
    assert (draft.posting_date, draft.line_count, draft.remaining_amount) == (
        first_open_day(),
        2,
        0,
    )
    # 2 x 19.99 at 8.875 % = 39.98 + 3.55 tax; 100.00 exempt: the same arithmetic everywhere.
    assert (draft.total_excluding_tax, draft.total_tax, draft.total_including_tax) == (
        13998,
        355,
        14353,
    )
    assert posted.status is ErpDocumentStatus.POSTED
    assert posted.id == draft.id
    assert posted.number is not None
    assert posted.remaining_amount == posted.total_including_tax == 14353
    assert reposted == recreated == posted
    assert await erp.adapter.get_sales_invoice(company, draft.id) == posted
    assert await erp.adapter.find_sales_invoice(company, "inv_port_1") == posted
    assert erp.document_count("inv_port_1") == 1


async def test_a_lost_answer_to_the_create_is_resumed_into_one_document(erp: Erp) -> None:
    await erp.adapter.upsert_customer(erp.company_id, CUSTOMER)
    erp.faults.matches = erp.creates_invoice
    erp.faults.after_forwarding = True

    with pytest.raises(BackendTransientError):
        await erp.adapter.create_sales_invoice(erp.company_id, invoice_request("inv_port_2"))
    invoice = await erp.adapter.create_sales_invoice(erp.company_id, invoice_request("inv_port_2"))

    assert len(erp.faults.failed) == 1
    assert invoice.line_count == 2
    assert erp.document_count("inv_port_2") == 1


async def test_a_closed_period_is_refused_and_a_rolled_forward_retry_posts(erp: Erp) -> None:
    company = erp.company_id
    await erp.adapter.upsert_customer(company, CUSTOMER)
    closed_day, _ = closed_period()
    draft = await erp.adapter.create_sales_invoice(
        company, invoice_request("inv_port_3", posting_date=closed_day)
    )

    with pytest.raises(BackendBusinessError):
        await erp.adapter.post_sales_invoice(company, draft.id)
    moved = await erp.adapter.create_sales_invoice(company, invoice_request("inv_port_3"))
    posted = await erp.adapter.post_sales_invoice(company, moved.id)

    assert moved.id == draft.id
    assert (posted.status, posted.posting_date) == (ErpDocumentStatus.POSTED, first_open_day())


def port_methods(protocol: type) -> dict[str, inspect.Signature]:
    """The methods a Protocol declares, with their signatures, by introspection."""
    return {
        name: inspect.signature(getattr(protocol, name))
        for name in sorted(typing_extensions.get_protocol_members(protocol))
    }


def _is_async(method: object) -> bool:
    """A coroutine method, or an async generator (the document streams)."""
    return inspect.iscoroutinefunction(method) or inspect.isasyncgenfunction(method)


def implemented(adapter: object, protocol: type) -> set[str]:
    """The protocol's methods the adapter has, with the same parameters in the same order."""
    return {
        name
        for name, signature in port_methods(protocol).items()
        if _is_async(getattr(adapter, name, None))
        and list(inspect.signature(getattr(type(adapter), name)).parameters)
        == list(signature.parameters)
    }


def test_each_adapter_implements_exactly_the_protocols_it_claims() -> None:
    bc, ns = business_central().adapter, netsuite().adapter
    everything = set(port_methods(ErpPort))
    claimed = {
        name
        for protocol in (ErpInvoicing, ErpLedgerSetup, ErpCreditMemos, ErpCatalog)
        for name in port_methods(protocol)
    }

    assert implemented(bc, ErpPort) == everything
    assert implemented(ns, ErpPort) == claimed
    assert isinstance(ns, ErpInvoicing)
    assert isinstance(ns, ErpLedgerSetup)
    assert isinstance(ns, ErpCreditMemos)
    assert isinstance(ns, ErpCatalog)
    smaller = (ErpInvoiceQueries, ErpJournals, ErpPayments)
    assert [protocol for protocol in smaller if isinstance(ns, protocol)] == []
