"""One port-level scenario, run against every ERP adapter: the port is vendor-neutral.

Each adapter runs over its in-process sandbox. Every adapter implements the whole
`ErpPort`, which is checked here method by method.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable

import pytest
import typing_extensions

import system_apis.erp.adapters
from sandboxes.demo_estate import closed_period, first_open_day
from system_apis.erp.port import ErpPort
from system_apis.erp.schemas import ErpCreditMemoApplicationCreate, ErpDocumentStatus
from system_apis.errors import BackendBusinessError, BackendTransientError
from tests.support.business_central import credit_memo_request, invoice_request
from tests.system_apis.erp.harness import CUSTOMER, ERPS, Erp


async def test_customer_upsert_creates_then_follows_changes(erp: Erp) -> None:
    created = await erp.adapter.upsert_customer(erp.company_id, CUSTOMER)
    again = await erp.adapter.upsert_customer(erp.company_id, CUSTOMER)
    renamed = await erp.adapter.upsert_customer(
        erp.company_id, CUSTOMER.model_copy(update={"display_name": "Acme Corporation"})
    )

    assert (created.number, created.display_name, created.currency) == ("C0001", "Acme Corp", "USD")
    assert again == created
    assert (renamed.id, renamed.display_name) == (created.id, "Acme Corporation")


async def test_a_customer_is_blocked_and_unblocked_once(erp: Erp) -> None:
    created = await erp.adapter.upsert_customer(erp.company_id, CUSTOMER)
    blocked = await erp.adapter.set_customer_blocked(erp.company_id, "C0001", blocked=True)
    writes = len(erp.recording.exchanges)
    again = await erp.adapter.set_customer_blocked(erp.company_id, "C0001", blocked=True)
    methods = [e.request.method for e in erp.recording.exchanges[writes:]]
    held = erp.customer_block("C0001")
    unblocked = await erp.adapter.set_customer_blocked(erp.company_id, "C0001", blocked=False)

    assert (blocked.id, blocked.number, blocked.blocked) == (created.id, "C0001", True)
    assert again == blocked
    assert "PATCH" not in methods  # already blocked: nothing written
    assert held in ("All", "ON")  # BC's `blocked`, NetSuite's credit hold override
    assert unblocked.blocked is False
    assert erp.customer_block("C0001") in (" ", "AUTO")
    with pytest.raises(BackendBusinessError):
        await erp.adapter.set_customer_blocked(erp.company_id, "C9999", blocked=True)


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


async def test_an_open_credit_memo_is_applied_to_an_invoice_once_where_the_api_allows(
    erp: Erp,
) -> None:
    company = erp.company_id
    await erp.adapter.upsert_customer(company, CUSTOMER)
    invoice = await erp.adapter.create_sales_invoice(company, invoice_request("inv_port_cm"))
    invoice = await erp.adapter.post_sales_invoice(company, invoice.id)
    memo = await erp.adapter.create_sales_credit_memo(company, credit_memo_request("cm_open"))
    memo = await erp.adapter.post_sales_credit_memo(company, memo.id)  # 19.99 + 1.77 tax
    application = ErpCreditMemoApplicationCreate(
        credit_memo_id=memo.id, invoice_id=invoice.id, currency="USD", amount=1000
    )
    if erp.adapter.__class__.__name__.startswith("BusinessCentral"):
        # BC's API v1.0 applies a memo only to the invoice it names when posted
        with pytest.raises(BackendBusinessError, match="Apply Entries"):
            await erp.adapter.apply_sales_credit_memo(company, application)
        return

    applied = await erp.adapter.apply_sales_credit_memo(company, application)
    again = await erp.adapter.apply_sales_credit_memo(company, application)
    more = await erp.adapter.apply_sales_credit_memo(
        company, application.model_copy(update={"amount": memo.total_including_tax})
    )
    with pytest.raises(BackendBusinessError):  # more than the memo holds
        await erp.adapter.apply_sales_credit_memo(
            company, application.model_copy(update={"amount": memo.total_including_tax + 1})
        )

    assert (applied.amount, applied.invoice_remaining_amount) == (1000, 14353 - 1000)
    assert again == applied  # the amount in all for the pair: a repeat changes nothing
    assert more.invoice_remaining_amount == 14353 - memo.total_including_tax
    owed = await erp.adapter.get_sales_invoice(company, invoice.id)
    assert owed.remaining_amount == 14353 - memo.total_including_tax


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


def _opens_a_scope(signature: inspect.Signature) -> bool:
    """A method that returns the async context manager of a scope (opened by the caller)."""
    return "AbstractAsyncContextManager" in str(signature.return_annotation)


def _shape(signature: inspect.Signature) -> list[tuple[str, object, object, object]]:
    """What a caller relies on: each parameter's name, kind, default and annotation, and
    the return annotation (annotations are compared as written: both sides postpone them)."""
    return [(p.name, p.kind, p.default, p.annotation) for p in signature.parameters.values()] + [
        ("return", None, None, signature.return_annotation)
    ]


def missing(adapter: type, protocol: type) -> dict[str, str]:
    """The protocol's methods the adapter lacks or declares otherwise, with what is wrong."""
    wrong = {}
    for name, wanted in port_methods(protocol).items():
        method = getattr(adapter, name, None)
        if method is None:
            wrong[name] = "missing"
        elif not _is_async(method) and not _opens_a_scope(wanted):
            wrong[name] = "not async"
        elif _shape(inspect.signature(method)) != _shape(wanted):
            wrong[name] = f"{inspect.signature(method)} is not {wanted}"
    return wrong


def erp_adapters() -> list[type]:
    """Every ERP adapter class the adapters package holds, found by walking it."""
    found = []
    for module in pkgutil.iter_modules(system_apis.erp.adapters.__path__):
        loaded = importlib.import_module(f"system_apis.erp.adapters.{module.name}")
        found += [
            cls
            for name, cls in inspect.getmembers(loaded, inspect.isclass)
            if name.endswith("Adapter") and cls.__module__ == loaded.__name__
        ]
    return found


def test_the_adapters_package_holds_both_erps() -> None:
    assert {cls.__name__ for cls in erp_adapters()} == {
        "BusinessCentralAdapter",
        "NetSuiteAdapter",
    }


@pytest.mark.parametrize("adapter", erp_adapters(), ids=lambda cls: cls.__name__)
def test_every_adapter_implements_the_whole_port(adapter: type) -> None:
    assert missing(adapter, ErpPort) == {}


@pytest.mark.parametrize("erp_of", ERPS.values(), ids=ERPS.keys())
def test_every_adapter_instance_is_an_erp_port(erp_of: Callable[[], Erp]) -> None:
    assert isinstance(erp_of().adapter, ErpPort)
