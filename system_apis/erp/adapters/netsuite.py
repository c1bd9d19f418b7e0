"""NetSuite's REST record API (`/services/rest/record/v1`) as an ERP port.

A whole `ErpPort`: customers, sales invoices, credit memos and the ledger setup
documents are checked against (subsidiary, tax items, currencies) here; customer
payments, journal entries and reading the period's documents back in
`netsuite_ledger`; its items in `netsuite_catalog`. A credit memo is created from the
invoice it corrects (`createdFrom`), which applies it; NetSuite posts it on save, keyed
by its `externalId` like an invoice. A standalone memo's open credit is applied to an
invoice later by `PATCH` of its `apply` sublist.

`company_id` is a subsidiary's internal id. Every line goes on one service item
(`line_item_id`), and tax codes and currencies are looked up by their NetSuite names
(`itemId`, `symbol`).

Idempotency: a customer is upserted with `PUT /customer/eid:{number}`, which NetSuite
makes safe to repeat. An invoice is created in one request with all its lines and
its `externalId`, pending approval; NetSuite refuses a second record with the same
external id, and the adapter looks the external id up before creating, so a caller
that retries after a lost answer finds the invoice instead of failing. Approving
the invoice posts it to the ledger; an approved invoice is left alone. An invoice still
pending approval is no accounting document and may be deleted; an approved one may not.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from core.money import to_decimal
from system_apis.erp.adapters.netsuite_catalog import NetSuiteCatalog
from system_apis.erp.adapters.netsuite_orders import NetSuiteSalesOrders
from system_apis.erp.adapters.netsuite_records import decode_netsuite_error, ns_query
from system_apis.erp.adapters.netsuite_streams import NetSuiteStreams
from system_apis.erp.adapters.netsuite_wire import (
    NsCollection,
    NsCreditMemo,
    NsCreditMemoApplication,
    NsCurrency,
    NsCustomer,
    NsCustomerCreditHold,
    NsInvoice,
    NsPaymentApplicationsUpdate,
    NsPaymentApplicationUpdate,
    NsRefRequest,
    NsSubsidiary,
    NsTaxItem,
)
from system_apis.erp.netsuite_mapping import (
    approval,
    credit_memo_to_ns,
    customer_from_ns,
    customer_to_ns,
    invoice_date_changes,
    invoice_status,
    invoice_to_ns,
    ns_any_of,
    ns_is,
)
from system_apis.erp.schemas import (
    ErpCompany,
    ErpCreditMemoApplication,
    ErpCreditMemoApplicationCreate,
    ErpCurrency,
    ErpCustomer,
    ErpCustomerStanding,
    ErpCustomerUpsert,
    ErpDocumentStatus,
    ErpInvoiceLine,
    ErpSalesCreditMemo,
    ErpSalesCreditMemoCreate,
    ErpSalesInvoice,
    ErpSalesInvoiceCreate,
)
from system_apis.errors import BackendBusinessError, BackendError, BackendNotFound
from system_apis.priority import Priority, prioritized

__all__ = ["NetSuiteAdapter", "decode_netsuite_error"]

# Postings in flight at once for a connection without a budget (NetSuite's base tier).
DEFAULT_PARALLEL_POSTINGS = 5


@dataclass(frozen=True)
class DocumentRefs:
    """The internal ids of what a new document's header and lines refer to."""

    customer: NsCustomer
    currency_id: str
    tax_code_ids: dict[str, str]  # by tax code
    account_ids: dict[str, str]  # by account number


class NetSuiteAdapter(NetSuiteStreams, NetSuiteCatalog, NetSuiteSalesOrders):
    """NetSuite as a whole `ErpPort`; wire mapping only."""

    async def get_company(self, company_id: str) -> ErpCompany:
        operation = "get_company"
        response = await self._send(
            "GET", f"/subsidiary/{quote(company_id, safe='')}", operation=operation
        )
        subsidiary = self._parse(response, NsSubsidiary, operation)
        return ErpCompany(
            id=subsidiary.id,
            name=subsidiary.name,
            display_name=subsidiary.legal_name or subsidiary.name,
        )

    async def list_tax_codes(self, company_id: str) -> frozenset[str]:
        operation = "list_tax_codes"
        query = ns_query(ns_any_of("subsidiary", company_id))
        found = await self._send("GET", f"/salesTaxItem?{query}", operation=operation)
        codes = set()
        for item in self._parse(found, NsCollection, operation).items:
            response = await self._send("GET", f"/salesTaxItem/{item.id}", operation=operation)
            codes.add(self._parse(response, NsTaxItem, operation).item_id)
        return frozenset(codes)

    async def list_currencies(self, company_id: str) -> tuple[ErpCurrency, ...]:  # noqa: ARG002
        """Every currency of the account: NetSuite's currencies are not per subsidiary."""
        operation = "list_currencies"
        found = await self._send("GET", "/currency", operation=operation)
        currencies = []
        for item in self._parse(found, NsCollection, operation).items:
            response = await self._send("GET", f"/currency/{item.id}", operation=operation)
            currency = self._parse(response, NsCurrency, operation)
            currencies.append(
                ErpCurrency(code=currency.symbol, display_name=currency.name, symbol=None)
            )
        return tuple(currencies)

    async def upsert_customer(self, company_id: str, customer: ErpCustomerUpsert) -> ErpCustomer:
        operation = "upsert_customer"
        currency_id = await self._currency_id(customer.currency, operation)
        record = f"/customer/eid:{quote(customer.number, safe='')}"
        body = customer_to_ns(customer, company_id, currency_id)
        await self._send("PUT", record, operation=operation, body=body)
        current = self._known_customer(
            self._parse(await self._send("GET", record, operation=operation), NsCustomer, operation)
        )
        currency = (
            None
            if current.currency is None
            else await self._currency_code(current.currency.id, operation)
        )
        return self._mapped(operation, customer_from_ns, current, currency)

    async def set_customer_blocked(
        self, company_id: str, number: str, *, blocked: bool
    ) -> ErpCustomerStanding:
        """The customer's credit hold forced `ON` (NetSuite's own block on new sales
        transactions, the customer record left active and visible), or back to `AUTO`.
        Only a hold of `ON` is lifted: an `OFF` someone set in the ERP is left alone."""
        operation = "set_customer_blocked"
        record = f"/customer/eid:{quote(number, safe='')}"
        current = self._parse(
            await self._send("GET", record, operation=operation), NsCustomer, operation
        )
        if current.subsidiary.id != company_id:
            raise BackendNotFound(
                f"{self._client.backend} has no customer {number!r} in subsidiary {company_id}",
                backend=self._client.backend,
                operation=operation,
            )
        held = current.credit_hold_override is not None and current.credit_hold_override.id == "ON"
        if held != blocked:
            body = NsCustomerCreditHold(
                credit_hold_override=NsRefRequest(id="ON" if blocked else "AUTO")
            )
            await self._send("PATCH", record, operation=operation, body=body)
        return ErpCustomerStanding(id=current.id, number=number, blocked=blocked)

    async def find_sales_invoice(
        self, company_id: str, external_document_number: str
    ) -> ErpSalesInvoice | None:
        operation = "find_sales_invoice"
        found = await self._find_invoice(company_id, external_document_number, operation)
        return None if found is None else await self._canonical(found, operation)

    async def get_sales_invoice(self, company_id: str, invoice_id: str) -> ErpSalesInvoice:
        operation = "get_sales_invoice"
        return await self._canonical(
            await self._get_invoice(company_id, invoice_id, operation), operation
        )

    async def create_sales_invoice(
        self, company_id: str, invoice: ErpSalesInvoiceCreate, *, known_absent: bool = False
    ) -> ErpSalesInvoice:
        """Create the invoice pending approval, or move the unapproved one to the new dates."""
        operation = "create_sales_invoice"
        current = (
            None
            if known_absent
            else await self._find_invoice(company_id, invoice.external_document_number, operation)
        )
        if current is None:
            invoice_id = await self._create_invoice(company_id, invoice, operation)
        elif self._mapped(operation, invoice_status, current) is not ErpDocumentStatus.DRAFT:
            return await self._canonical(current, operation)
        elif (changes := invoice_date_changes(current, invoice)) is not None:
            invoice_id = current.id
            await self._send("PATCH", f"/invoice/{current.id}", operation=operation, body=changes)
        else:
            return await self._canonical(current, operation)
        return await self._canonical(
            await self._get_invoice(company_id, invoice_id, operation), operation
        )

    async def post_sales_invoice(
        self, company_id: str, invoice_id: str, *, known_draft: bool = False
    ) -> ErpSalesInvoice:
        """Approve an invoice pending approval; any other is returned unchanged."""
        operation = "post_sales_invoice"
        current = (
            None if known_draft else await self._get_invoice(company_id, invoice_id, operation)
        )
        if current is None or (
            self._mapped(operation, invoice_status, current) is ErpDocumentStatus.DRAFT
        ):
            await self._send(
                "PATCH", f"/invoice/{invoice_id}", operation=operation, body=approval()
            )
            current = await self._get_invoice(company_id, invoice_id, operation)
        return await self._canonical(current, operation)

    async def bulk_invoices_per_request(
        self,
        company_id: str,  # noqa: ARG002 (one budget per connection)
    ) -> int:
        """As many documents as the connection posts at once."""
        budget = self._client.budget
        return budget.limits.max_concurrent_requests if budget else DEFAULT_PARALLEL_POSTINGS

    async def post_new_sales_invoice(
        self, company_id: str, invoice: ErpSalesInvoiceCreate
    ) -> ErpSalesInvoice:
        """Created, then approved: NetSuite's REST API has no batch of records."""
        draft = await self.create_sales_invoice(company_id, invoice, known_absent=True)
        return await self.post_sales_invoice(company_id, draft.id)

    async def post_new_sales_invoices(
        self, company_id: str, invoices: Sequence[ErpSalesInvoiceCreate]
    ) -> list[ErpSalesInvoice | BackendError]:
        """NetSuite's REST API has no batch of records: the documents are created and
        approved in parallel, as many at once as the connection's concurrency allows,
        as bulk work in its budget."""
        parallel = asyncio.Semaphore(await self.bulk_invoices_per_request(company_id))

        async def post(invoice: ErpSalesInvoiceCreate) -> ErpSalesInvoice | BackendError:
            async with parallel:
                try:
                    return await self.post_new_sales_invoice(company_id, invoice)
                except BackendError as error:
                    return error

        with prioritized(Priority.BULK):
            return list(await asyncio.gather(*(post(invoice) for invoice in invoices)))

    async def delete_sales_invoice_draft(self, company_id: str, invoice_id: str) -> None:
        """Delete an invoice pending approval; NetSuite refuses an approved one."""
        operation = "delete_sales_invoice_draft"
        await self._get_invoice(company_id, invoice_id, operation)  # the subsidiary's own
        await self._send("DELETE", f"/invoice/{quote(invoice_id, safe='')}", operation=operation)

    async def delete_sales_credit_memo_draft(self, company_id: str, credit_memo_id: str) -> None:
        """NetSuite posts a memo when it is saved, so it refuses the delete of any."""
        operation = "delete_sales_credit_memo_draft"
        await self._get_credit_memo(company_id, credit_memo_id, operation)
        await self._send(
            "DELETE", f"/creditMemo/{quote(credit_memo_id, safe='')}", operation=operation
        )

    async def find_sales_credit_memo(
        self, company_id: str, external_document_number: str
    ) -> ErpSalesCreditMemo | None:
        operation = "find_sales_credit_memo"
        found = await self._find_credit_memo(company_id, external_document_number, operation)
        return None if found is None else await self._canonical_memo(found, operation)

    async def create_sales_credit_memo(
        self, company_id: str, credit_memo: ErpSalesCreditMemoCreate
    ) -> ErpSalesCreditMemo:
        """Create the memo, or return the one with its external id (NetSuite keeps one)."""
        operation = "create_sales_credit_memo"
        found = await self._find_credit_memo(
            company_id, credit_memo.external_document_number, operation
        )
        if found is None:
            refs = await self._document_refs(
                company_id,
                credit_memo.customer_number,
                credit_memo.currency,
                credit_memo.lines,
                operation,
            )
            body = credit_memo_to_ns(
                credit_memo,
                customer_id=refs.customer.id,
                currency_id=refs.currency_id,
                tax_code_ids=refs.tax_code_ids,
                account_ids=refs.account_ids,
                line_item_id=self._line_item_id,
            )
            response = await self._send("POST", "/creditMemo", operation=operation, body=body)
            created_id = self._created_id(response, "creditMemo", operation)
            found = await self._get_credit_memo(company_id, created_id, operation)
        return await self._canonical_memo(found, operation)

    async def post_sales_credit_memo(
        self, company_id: str, credit_memo_id: str
    ) -> ErpSalesCreditMemo:
        """NetSuite posts a credit memo when it is saved: the memo as it stands."""
        operation = "post_sales_credit_memo"
        memo = await self._get_credit_memo(company_id, credit_memo_id, operation)
        return await self._canonical_memo(memo, operation)

    async def apply_sales_credit_memo(
        self, company_id: str, application: ErpCreditMemoApplicationCreate
    ) -> ErpCreditMemoApplication:
        """`PATCH /creditMemo/{id}` with its `apply` sublist: the invoice's line set to the
        amount, so a repeat changes nothing; the invoice read back for what it owes."""
        operation = "apply_sales_credit_memo"
        memo = await self._get_credit_memo(company_id, application.credit_memo_id, operation)
        before = await self._get_invoice(company_id, application.invoice_id, operation)
        body = NsCreditMemoApplication(
            apply=NsPaymentApplicationsUpdate(
                items=[
                    NsPaymentApplicationUpdate(
                        doc=NsRefRequest(id=before.id),
                        apply=True,
                        amount=to_decimal(application.amount, application.currency),
                    )
                ]
            )
        )
        await self._send(
            "PATCH", f"/creditMemo/{quote(memo.id, safe='')}", operation=operation, body=body
        )
        invoice = await self._canonical(
            await self._get_invoice(company_id, before.id, operation), operation
        )
        return ErpCreditMemoApplication(
            credit_memo_id=memo.id,
            credit_memo_number=memo.tran_id,
            invoice_id=invoice.id,
            invoice_number=invoice.number,
            currency=invoice.currency,
            amount=application.amount,
            invoice_remaining_amount=invoice.remaining_amount,
        )

    async def _find_credit_memo(
        self, company_id: str, external_id: str, operation: str
    ) -> NsCreditMemo | None:
        response = await self._send(
            "GET", f"/creditMemo?{ns_query(ns_is('externalId', external_id))}", operation=operation
        )
        found = self._parse(response, NsCollection, operation).items
        return await self._get_credit_memo(company_id, found[0].id, operation) if found else None

    async def _document_refs(
        self,
        company_id: str,
        customer_number: str,
        currency: str,
        lines: tuple[ErpInvoiceLine, ...],
        operation: str,
    ) -> DocumentRefs:
        """The customer, currency, tax items and G/L accounts a document's lines refer to,
        by their ids; an account NetSuite lacks is refused."""
        record = f"/customer/eid:{quote(customer_number, safe='')}"
        customer = self._known_customer(
            self._parse(await self._send("GET", record, operation=operation), NsCustomer, operation)
        )
        currency_id = await self._currency_id(currency, operation)
        tax_code_ids = {
            code: await self._tax_code_id(company_id, code, operation)
            for code in sorted({line.tax_code for line in lines})
        }
        numbers = {line.account_number for line in lines if line.account_number is not None}
        account_ids = {
            number: await self._known_account(number, operation) for number in sorted(numbers)
        }
        return DocumentRefs(customer, currency_id, tax_code_ids, account_ids)

    async def _create_invoice(
        self, company_id: str, invoice: ErpSalesInvoiceCreate, operation: str
    ) -> str:
        refs = await self._document_refs(
            company_id, invoice.customer_number, invoice.currency, invoice.lines, operation
        )
        body = invoice_to_ns(
            invoice,
            company_id=company_id,
            customer_id=refs.customer.id,
            currency_id=refs.currency_id,
            tax_code_ids=refs.tax_code_ids,
            account_ids=refs.account_ids,
            line_item_id=self._line_item_id,
        )
        response = await self._send("POST", "/invoice", operation=operation, body=body)
        return self._created_id(response, "invoice", operation)

    async def _find_invoice(
        self, company_id: str, external_id: str, operation: str
    ) -> NsInvoice | None:
        response = await self._send(
            "GET", f"/invoice?{ns_query(ns_is('externalId', external_id))}", operation=operation
        )
        found = self._parse(response, NsCollection, operation).items
        if len(found) > 1:
            raise BackendBusinessError(
                f"{self._client.backend} holds {len(found)} invoices with externalId "
                f"{external_id!r}; one must be removed by hand",
                backend=self._client.backend,
                operation=operation,
            )
        return await self._get_invoice(company_id, found[0].id, operation) if found else None
