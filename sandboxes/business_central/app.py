"""The ASGI app: the routes under the API root, BC's error bodies, the handlers' dispatch."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from sandboxes.business_central.accounts import AccountsApi
from sandboxes.business_central.api import CompaniesApi
from sandboxes.business_central.batch import batch
from sandboxes.business_central.books import BusinessCentralState
from sandboxes.business_central.credit_memos import CreditMemosApi
from sandboxes.business_central.customers import CustomersApi
from sandboxes.business_central.items import ItemsApi
from sandboxes.business_central.journals import JournalsApi
from sandboxes.business_central.odata import (
    API_ROOT,
    REPEATED_CREATES_PATH,
    BcFault,
    bc_error,
    routing_error,
)
from sandboxes.business_central.payments import PaymentsApi
from sandboxes.business_central.sales_documents import SalesDocumentsApi
from sandboxes.business_central.sales_invoices import SalesInvoicesApi
from sandboxes.business_central.sales_orders import FinancialDetailsApi, SalesOrdersApi
from sandboxes.faults import install_faults
from sandboxes.limits import install_limits


class _Api(
    AccountsApi, CompaniesApi, CustomersApi, FinancialDetailsApi, ItemsApi, JournalsApi, PaymentsApi
):
    """The request handlers, bound to one `BusinessCentralState` (sales documents apart)."""


async def _on_fault(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BcFault)
    return bc_error(exc.status, exc.code, exc.message)


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return routing_error(exc.status_code, request.method, request.url.path)


Handler = Callable[[Request], Awaitable[Response]]


def create_app(state: BusinessCentralState | None = None) -> Starlette:
    """The sandbox as an ASGI app; pass a `state` to inspect or seed it from tests."""
    api = _Api(state or BusinessCentralState())
    company = "/companies({company_id})"
    journal = f"{company}/journals({{journal_id}})"
    payment_journal = f"{company}/customerPaymentJournals({{journal_id}})"
    routes: list[tuple[str, Handler, str]] = [
        ("/companies", api.list_companies, "GET"),
        (company, api.get_company, "GET"),
        (f"{company}/taxGroups", api.list_tax_groups, "GET"),
        (f"{company}/customers", api.list_customers, "GET"),
        (f"{company}/customers", api.create_customer, "POST"),
        (f"{company}/customers({{customer_id}})", api.get_customer, "GET"),
        (f"{company}/customers({{customer_id}})", api.update_customer, "PATCH"),
        (
            f"{company}/customers({{customer_id}})/customerFinancialDetails",
            api.list_financial_details,
            "GET",
        ),
        (f"{company}/accounts", api.list_accounts, "GET"),
        (f"{company}/accounts({{account_id}})", api.get_account, "GET"),
        (f"{company}/items", api.list_items, "GET"),
        (f"{company}/items({{item_id}})", api.get_item, "GET"),
        *_document_routes(company, SalesInvoicesApi(api.state)),
        (f"{company}/currencies", api.list_currencies, "GET"),
        *_document_routes(company, CreditMemosApi(api.state)),
        *_order_routes(company, SalesOrdersApi(api.state)),
        (f"{company}/journals", api.list_journals, "GET"),
        (f"{company}/journals", api.create_journal, "POST"),
        (journal, api.get_journal, "GET"),
        (journal, api.update_journal, "PATCH"),
        (f"{journal}/journalLines", api.list_journal_lines, "GET"),
        (f"{journal}/journalLines", api.create_journal_line, "POST"),
        (f"{journal}/journalLines({{line_id}})", api.update_journal_line, "PATCH"),
        (f"{journal}/Microsoft.NAV.post", api.post_journal, "POST"),
        (f"{company}/generalLedgerEntries", api.list_ledger_entries, "GET"),
        (f"{company}/customerPaymentJournals", api.list_payment_journals, "GET"),
        (f"{company}/customerPaymentJournals", api.create_payment_journal, "POST"),
        (payment_journal, api.get_payment_journal, "GET"),
        (payment_journal, api.update_payment_journal, "PATCH"),
        (f"{payment_journal}/customerPayments", api.list_customer_payments, "GET"),
        (f"{payment_journal}/customerPayments", api.create_customer_payment, "POST"),
    ]
    by_path: dict[str, dict[str, Handler]] = {}
    for path, handler, method in routes:
        by_path.setdefault(path, {})[method] = handler
    app = Starlette(
        routes=[
            Route(f"{API_ROOT}/$batch", batch, methods=["POST"]),
            Mount(
                API_ROOT,
                routes=[
                    Route(path, _dispatch(handlers), methods=list(handlers))
                    for path, handlers in by_path.items()
                ],
            ),
            Route(REPEATED_CREATES_PATH, api.repeated_creates, methods=["GET"]),
        ],
        exception_handlers={BcFault: _on_fault, HTTPException: _on_http_error},
    )
    app.state.business_central = api.state
    install_limits(app, "erp", "business_central")  # the vendor's limits: sandboxes.limits
    install_faults(app, "erp")  # tests, demos and benchmarks only: see sandboxes.faults
    return app


def _document_routes(
    company: str, documents: SalesDocumentsApi[Any]
) -> list[tuple[str, Handler, str]]:
    """A sales document entity set (`salesInvoices`), one document, its lines, its post."""
    collection = f"{company}/{documents.kind.entity}s"
    one = f"{collection}({{{documents.path_parameter}}})"
    return [
        (collection, documents.list, "GET"),
        (collection, documents.create, "POST"),
        (one, documents.get, "GET"),
        (one, documents.update, "PATCH"),
        (one, documents.delete, "DELETE"),
        (f"{one}/{documents.kind.lines_property}", documents.list_lines, "GET"),
        (f"{one}/{documents.kind.lines_property}", documents.create_line, "POST"),
        (f"{one}/Microsoft.NAV.post", documents.post, "POST"),
    ]


def _order_routes(company: str, orders: SalesOrdersApi) -> list[tuple[str, Handler, str]]:
    """`salesOrders`: list, create, read, delete, and their lines (no post action)."""
    collection = f"{company}/salesOrders"
    one = f"{collection}({{order_id}})"
    return [
        (collection, orders.list, "GET"),
        (collection, orders.create, "POST"),
        (one, orders.get, "GET"),
        (one, orders.delete, "DELETE"),
        (f"{one}/salesOrderLines", orders.list_lines, "GET"),
        (f"{one}/salesOrderLines", orders.create_line, "POST"),
    ]


def _dispatch(handlers: dict[str, Handler]) -> Handler:
    """One endpoint for several methods on the same path."""

    async def endpoint(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await handlers[method](request)

    return endpoint
