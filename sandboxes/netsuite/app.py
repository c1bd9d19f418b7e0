"""The ASGI app: the routes under the record service root, NetSuite's error bodies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from sandboxes.faults import install_faults
from sandboxes.limits import install_limits
from sandboxes.netsuite.api import ReferenceApi
from sandboxes.netsuite.applications import PaymentApplicationsApi
from sandboxes.netsuite.credit_memos import CreditMemosApi
from sandboxes.netsuite.customers import CustomersApi
from sandboxes.netsuite.items import ITEM_RECORD_TYPES, ItemsApi
from sandboxes.netsuite.journals import JournalsApi
from sandboxes.netsuite.records import NetSuiteState
from sandboxes.netsuite.sales_orders import SalesOrdersApi
from sandboxes.netsuite.wire import API_ROOT, SECTIONS, TITLES, NsFault, NsResponse


class _Api(
    ReferenceApi,
    CustomersApi,
    CreditMemosApi,
    PaymentApplicationsApi,
    JournalsApi,
    ItemsApi,
    SalesOrdersApi,
):
    """The request handlers, bound to one `NetSuiteState`."""


def _error(status: int, code: str, detail: str) -> Response:
    section = SECTIONS.get(status, "15.5.1")
    return NsResponse(
        {
            "type": f"https://www.rfc-editor.org/rfc/rfc9110.html#section-{section}",
            "title": TITLES.get(status, "Bad Request"),
            "status": status,
            "o:errorDetails": [{"detail": detail, "o:errorCode": code}],
        },
        status_code=status,
    )


async def _on_fault(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NsFault)
    return _error(exc.status, exc.code, exc.detail)


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return _error(
            405, "INVALID_REQUEST", f"{request.method} is not allowed on {request.url.path}."
        )
    return _error(404, "NONEXISTENT_ID", f"Unknown record type or path {request.url.path}.")


Handler = Callable[[Request], Awaitable[Response]]


def create_app(state: NetSuiteState | None = None) -> Starlette:
    """The sandbox as an ASGI app; pass a `state` to inspect or seed it from tests."""
    api = _Api(state or NetSuiteState())
    routes: list[tuple[str, Handler, str]] = [
        ("/currency", api.list_currencies, "GET"),
        ("/currency/{record_id}", api.get_currency, "GET"),
        ("/subsidiary/{record_id}", api.get_subsidiary, "GET"),
        ("/salesTaxItem", api.list_tax_items, "GET"),
        ("/salesTaxItem/{record_id}", api.get_tax_item, "GET"),
        ("/customer", api.create_customer, "POST"),
        ("/customer/{record_id}", api.get_customer, "GET"),
        ("/customer/{record_id}", api.upsert_customer, "PUT"),
        ("/customer/{record_id}", api.update_customer, "PATCH"),
        ("/invoice", api.list_invoices, "GET"),
        ("/invoice", api.create_invoice, "POST"),
        ("/invoice/{record_id}", api.get_invoice, "GET"),
        ("/invoice/{record_id}", api.update_invoice, "PATCH"),
        ("/invoice/{record_id}", api.delete_invoice, "DELETE"),
        ("/creditMemo", api.list_credit_memos, "GET"),
        ("/creditMemo", api.create_credit_memo, "POST"),
        ("/creditMemo/{record_id}", api.get_credit_memo, "GET"),
        ("/invoice/{record_id}/!transform/customerPayment", api.transform_to_payment, "POST"),
        ("/customerPayment", api.list_payments, "GET"),
        ("/customerPayment/{record_id}", api.get_payment, "GET"),
        ("/customerPayment/{record_id}", api.update_payment, "PATCH"),
        ("/account", api.list_accounts, "GET"),
        ("/account/{record_id}", api.get_account, "GET"),
        ("/journalEntry", api.list_journal_entries, "GET"),
        ("/journalEntry", api.create_journal_entry, "POST"),
        ("/journalEntry/{record_id}", api.get_journal_entry, "GET"),
        ("/journalEntry/{record_id}", api.update_journal_entry, "PATCH"),
        *[(f"/{kind}", api.list_items, "GET") for kind in ITEM_RECORD_TYPES],
        *[(f"/{kind}/{{record_id}}", api.get_item, "GET") for kind in ITEM_RECORD_TYPES],
        ("/creditMemo/{record_id}", api.delete_credit_memo, "DELETE"),
        ("/creditMemo/{record_id}", api.apply_credit_memo, "PATCH"),
        ("/salesOrder", api.list_sales_orders, "GET"),
        ("/salesOrder", api.create_sales_order, "POST"),
        ("/salesOrder/{record_id}", api.get_sales_order, "GET"),
    ]
    by_path: dict[str, dict[str, Handler]] = {}
    for path, handler, method in routes:
        by_path.setdefault(path, {})[method] = handler
    app = Starlette(
        routes=[
            Mount(
                API_ROOT,
                routes=[
                    Route(path, _dispatch(handlers), methods=list(handlers))
                    for path, handlers in by_path.items()
                ],
            )
        ],
        exception_handlers={NsFault: _on_fault, HTTPException: _on_http_error},
    )
    app.state.netsuite = api.state
    install_limits(app, "erp", "netsuite")  # the vendor's limits: sandboxes.limits
    install_faults(app, "erp")  # tests, demos and benchmarks only: see sandboxes.faults
    return app


def _dispatch(handlers: dict[str, Handler]) -> Handler:
    async def endpoint(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await handlers[method](request)

    return endpoint
