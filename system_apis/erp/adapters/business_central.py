"""`ErpPort` over the Dynamics 365 Business Central API v1.0.

The client's base URL is the API root
(`https://api.businesscentral.dynamics.com/v2.0/{environment}/api/v1.0`). Every
body BC sends back is validated into a `Bc...` wire model; anything else is a
`BackendContractError`. BC refusals keep BC's error code (`vendor_code`) and message.

Idempotency comes from reading before writing, never from blind retries: BC does
not deduplicate sales invoices by external document number, so a create whose
answer was lost must not be re-sent by the HTTP client. Instead every write is
preceded by a lookup, and a caller that retries the whole method resumes where
the last attempt stopped (a draft without all its lines is completed, a posted
document is left alone). Creates and the post action are therefore sent without
automatic retries.
"""

from __future__ import annotations

from typing import TypeVar
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from system_apis.erp.adapters.business_central_wire import (
    BcCompany,
    BcCustomer,
    BcCustomerCreate,
    BcCustomerList,
    BcCustomerUpdate,
    BcErrorBody,
    BcModel,
    BcRequest,
    BcSalesInvoice,
    BcSalesInvoiceCreate,
    BcSalesInvoiceLine,
    BcSalesInvoiceLineCreate,
    BcSalesInvoiceList,
    BcSalesInvoiceUpdate,
    BcTaxGroup,
    BcTaxGroupList,
)
from system_apis.erp.mapping import (
    company_from_bc,
    customer_changes,
    customer_from_bc,
    customer_to_bc,
    missing_lines,
    odata_eq,
    sales_invoice_from_bc,
    sales_invoice_header_changes,
    sales_invoice_line_to_bc,
    sales_invoice_to_bc,
)
from system_apis.erp.schemas import (
    ErpCompany,
    ErpCustomer,
    ErpCustomerUpsert,
    ErpSalesInvoice,
    ErpSalesInvoiceCreate,
)
from system_apis.errors import BackendBusinessError, BackendContractError
from system_apis.http import ResilientClient, VendorError, parse_body

__all__ = [
    "BcCompany",
    "BcCustomer",
    "BcCustomerCreate",
    "BcCustomerList",
    "BcCustomerUpdate",
    "BcSalesInvoice",
    "BcSalesInvoiceCreate",
    "BcSalesInvoiceLine",
    "BcSalesInvoiceLineCreate",
    "BcSalesInvoiceList",
    "BcSalesInvoiceUpdate",
    "BcTaxGroup",
    "BcTaxGroupList",
    "BusinessCentralAdapter",
    "decode_bc_error",
]

M = TypeVar("M", bound=BcModel)

EXPAND_LINES = "salesInvoiceLines"


def decode_bc_error(response: httpx.Response) -> VendorError | None:
    """BC's `{"error": {"code", "message"}}` body, or `None` when the body is not one."""
    try:
        body = BcErrorBody.model_validate_json(response.content)
    except ValidationError:
        return None
    return VendorError(code=body.error.code, message=body.error.message)


def _query(**options: str) -> str:
    """OData system query options, percent-encoded (`%20`, not `+`, for spaces)."""
    return "&".join(f"${name}={quote(value, safe='')}" for name, value in options.items())


class BusinessCentralAdapter:
    """Business Central implementation of `ErpPort`; wire mapping only, no business rules."""

    def __init__(self, client: ResilientClient) -> None:
        self._client = client

    async def get_company(self, company_id: str) -> ErpCompany:
        operation = "get_company"
        response = await self._send("GET", f"/companies({company_id})", operation=operation)
        return company_from_bc(self._parse(response, BcCompany, operation))

    async def list_tax_codes(self, company_id: str) -> frozenset[str]:
        operation = "list_tax_codes"
        response = await self._send(
            "GET", f"/companies({company_id})/taxGroups", operation=operation
        )
        groups = self._parse(response, BcTaxGroupList, operation)
        return frozenset(group.code for group in groups.value)

    async def upsert_customer(self, company_id: str, customer: ErpCustomerUpsert) -> ErpCustomer:
        operation = "upsert_customer"
        customers = f"/companies({company_id})/customers"
        response = await self._send(
            "GET",
            f"{customers}?{_query(filter=odata_eq('number', customer.number))}",
            operation=operation,
        )
        found = self._parse(response, BcCustomerList, operation).value
        if not found:
            response = await self._send(
                "POST", customers, operation=operation, body=customer_to_bc(customer)
            )
            return customer_from_bc(self._parse(response, BcCustomer, operation))
        current = found[0]
        changes = customer_changes(current, customer)
        if changes is None:
            return customer_from_bc(current)
        response = await self._send(
            "PATCH",
            f"{customers}({current.id})",
            operation=operation,
            body=changes,
            headers={"If-Match": current.etag},
        )
        return customer_from_bc(self._parse(response, BcCustomer, operation))

    async def find_sales_invoice(
        self, company_id: str, external_document_number: str
    ) -> ErpSalesInvoice | None:
        operation = "find_sales_invoice"
        found = await self._find_sales_invoice(company_id, external_document_number, operation)
        return None if found is None else self._canonical_invoice(found, operation)

    async def create_sales_invoice(
        self, company_id: str, invoice: ErpSalesInvoiceCreate
    ) -> ErpSalesInvoice:
        """Create the draft (header and every line), or complete the one that exists.

        A document that is no longer a draft is returned as it is: it was created and
        posted by an earlier attempt.
        """
        operation = "create_sales_invoice"
        invoices = f"/companies({company_id})/salesInvoices"
        current = await self._find_sales_invoice(
            company_id, invoice.external_document_number, operation
        )
        if current is None:
            response = await self._send(
                "POST", invoices, operation=operation, body=sales_invoice_to_bc(invoice)
            )
            current = self._parse(response, BcSalesInvoice, operation)
        elif current.status != "Draft":
            return self._canonical_invoice(current, operation)
        elif (changes := sales_invoice_header_changes(current, invoice)) is not None:
            await self._send(
                "PATCH",
                f"{invoices}({current.id})",
                operation=operation,
                body=changes,
                headers={"If-Match": current.etag},
            )
        for line in missing_lines(current, invoice):
            await self._send(
                "POST",
                f"{invoices}({current.id})/salesInvoiceLines",
                operation=operation,
                body=sales_invoice_line_to_bc(line, invoice.currency),
            )
        return self._canonical_invoice(
            await self._get_sales_invoice(company_id, current.id, operation), operation
        )

    async def post_sales_invoice(self, company_id: str, invoice_id: str) -> ErpSalesInvoice:
        """Post a draft; a document that is already posted is returned unchanged."""
        operation = "post_sales_invoice"
        current = await self._get_sales_invoice(company_id, invoice_id, operation)
        if current.status == "Draft":
            await self._send(
                "POST",
                f"/companies({company_id})/salesInvoices({invoice_id})/Microsoft.NAV.post",
                operation=operation,
            )
            current = await self._get_sales_invoice(company_id, invoice_id, operation)
        return self._canonical_invoice(current, operation)

    async def _find_sales_invoice(
        self, company_id: str, external_document_number: str, operation: str
    ) -> BcSalesInvoice | None:
        query = _query(
            filter=odata_eq("externalDocumentNumber", external_document_number),
            expand=EXPAND_LINES,
        )
        response = await self._send(
            "GET", f"/companies({company_id})/salesInvoices?{query}", operation=operation
        )
        found = self._parse(response, BcSalesInvoiceList, operation).value
        if len(found) > 1:
            raise BackendBusinessError(
                f"{self._client.backend} holds {len(found)} sales invoices with external "
                f"document number {external_document_number!r}; one must be removed by hand",
                backend=self._client.backend,
                operation=operation,
            )
        return found[0] if found else None

    async def _get_sales_invoice(
        self, company_id: str, invoice_id: str, operation: str
    ) -> BcSalesInvoice:
        response = await self._send(
            "GET",
            f"/companies({company_id})/salesInvoices({invoice_id})?{_query(expand=EXPAND_LINES)}",
            operation=operation,
        )
        return self._parse(response, BcSalesInvoice, operation)

    async def _send(
        self,
        method: str,
        url: str,
        *,
        operation: str,
        body: BcRequest | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        return await self._client.request(
            method,
            url,
            operation=operation,
            json_body=None if body is None else body.model_dump(mode="json", by_alias=True),
            headers=headers,
            decode_error=decode_bc_error,
        )

    def _parse(self, response: httpx.Response, model: type[M], operation: str) -> M:
        return parse_body(response, model, backend=self._client.backend, operation=operation)

    def _canonical_invoice(self, invoice: BcSalesInvoice, operation: str) -> ErpSalesInvoice:
        try:
            return sales_invoice_from_bc(invoice)
        except ValueError as exc:
            raise BackendContractError(
                f"{self._client.backend} answered {operation} with an invoice outside its "
                f"contract: {exc}",
                backend=self._client.backend,
                operation=operation,
            ) from exc
