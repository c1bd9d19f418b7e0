"""`ErpPort`: what the process tier may ask of any ERP. Adapters implement it."""

from __future__ import annotations

from typing import Protocol

from system_apis.erp.schemas import (
    ErpCompany,
    ErpCustomer,
    ErpCustomerUpsert,
    ErpSalesInvoice,
    ErpSalesInvoiceCreate,
)


class ErpPort(Protocol):
    """Vendor-neutral ERP operations. `company_id` is the ERP's id of a legal entity.

    Every write is idempotent: creates are keyed by the caller's number (customer
    number, external document number) and posting a posted document is a no-op.
    """

    async def get_company(self, company_id: str) -> ErpCompany: ...

    async def list_tax_codes(self, company_id: str) -> frozenset[str]: ...

    async def upsert_customer(
        self, company_id: str, customer: ErpCustomerUpsert
    ) -> ErpCustomer: ...

    async def find_sales_invoice(
        self, company_id: str, external_document_number: str
    ) -> ErpSalesInvoice | None: ...

    async def create_sales_invoice(
        self, company_id: str, invoice: ErpSalesInvoiceCreate
    ) -> ErpSalesInvoice:
        """Create the draft (header and every line), or complete the one that exists."""
        ...

    async def post_sales_invoice(self, company_id: str, invoice_id: str) -> ErpSalesInvoice: ...
