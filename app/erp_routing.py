"""One `ErpPort` over several ERP connections: each call goes to the connection of the
legal entity whose company it names.

Companies that grew by acquisition run an ERP per region; every `ErpPort` method names
the company (a Business Central company, a NetSuite subsidiary) first, and each legal
entity records its connection and company, so the document's legal entity decides.
A company no legal entity names goes to the `default` connection. A workflow that read
its legal entity's connection when it planned its calls names it for them
(`system_apis.erp.routing`), and they go there without another read. Every adapter
implements the whole port, so any connection takes any operation.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.models.legal_entity import LegalEntityRow
from core.settings import DEFAULT_ERP_CONNECTION
from system_apis.erp.port import ErpPort
from system_apis.erp.routing import known_connection
from system_apis.erp.schemas import (
    ErpCompany,
    ErpCreditMemoApplication,
    ErpCreditMemoApplicationCreate,
    ErpCurrency,
    ErpCustomer,
    ErpCustomerCredit,
    ErpCustomerPayment,
    ErpCustomerPaymentCreate,
    ErpCustomerPaymentReversal,
    ErpCustomerStanding,
    ErpCustomerUpsert,
    ErpItem,
    ErpJournal,
    ErpJournalCreate,
    ErpJournalEntry,
    ErpJournalEntryCreate,
    ErpLedgerEntry,
    ErpSalesCreditMemo,
    ErpSalesCreditMemoCreate,
    ErpSalesInvoice,
    ErpSalesInvoiceCreate,
    ErpSalesOrder,
    ErpSalesOrderCreate,
)
from system_apis.errors import BackendError


class ErpRouter:
    """`ErpPort` by legal entity. The composition root binds the database once it has one;
    with a single connection no lookup is made."""

    def __init__(self, connections: Mapping[str, ErpPort]) -> None:
        self.connections = dict(connections)
        self._sessionmaker: async_sessionmaker[AsyncSession] | None = None

    def bind(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def connection_of(self, company_id: str) -> str:
        if len(self.connections) == 1 or self._sessionmaker is None:
            return DEFAULT_ERP_CONNECTION
        known = known_connection(company_id)  # the calling workflow read its entity just now
        if known is not None and known in self.connections:
            return known
        async with self._sessionmaker() as session:
            name = await session.scalar(
                select(LegalEntityRow.erp_connection).where(
                    LegalEntityRow.erp_company_id == company_id
                )
            )
        return name or DEFAULT_ERP_CONNECTION

    async def _port(self, company_id: str) -> ErpPort:
        return self.connections[await self.connection_of(company_id)]

    # ErpLedgerSetup

    async def get_company(self, company_id: str) -> ErpCompany:
        port = await self._port(company_id)
        return await port.get_company(company_id)

    async def list_tax_codes(self, company_id: str) -> frozenset[str]:
        port = await self._port(company_id)
        return await port.list_tax_codes(company_id)

    async def list_currencies(self, company_id: str) -> tuple[ErpCurrency, ...]:
        port = await self._port(company_id)
        return await port.list_currencies(company_id)

    # ErpInvoicing

    async def upsert_customer(self, company_id: str, customer: ErpCustomerUpsert) -> ErpCustomer:
        port = await self._port(company_id)
        return await port.upsert_customer(company_id, customer)

    async def set_customer_blocked(
        self, company_id: str, number: str, *, blocked: bool
    ) -> ErpCustomerStanding:
        port = await self._port(company_id)
        return await port.set_customer_blocked(company_id, number, blocked=blocked)

    async def find_sales_invoice(
        self, company_id: str, external_document_number: str
    ) -> ErpSalesInvoice | None:
        port = await self._port(company_id)
        return await port.find_sales_invoice(company_id, external_document_number)

    async def get_sales_invoice(self, company_id: str, invoice_id: str) -> ErpSalesInvoice:
        port = await self._port(company_id)
        return await port.get_sales_invoice(company_id, invoice_id)

    async def create_sales_invoice(
        self, company_id: str, invoice: ErpSalesInvoiceCreate, *, known_absent: bool = False
    ) -> ErpSalesInvoice:
        port = await self._port(company_id)
        return await port.create_sales_invoice(company_id, invoice, known_absent=known_absent)

    async def post_sales_invoice(
        self, company_id: str, invoice_id: str, *, known_draft: bool = False
    ) -> ErpSalesInvoice:
        port = await self._port(company_id)
        return await port.post_sales_invoice(company_id, invoice_id, known_draft=known_draft)

    async def post_new_sales_invoice(
        self, company_id: str, invoice: ErpSalesInvoiceCreate
    ) -> ErpSalesInvoice:
        port = await self._port(company_id)
        return await port.post_new_sales_invoice(company_id, invoice)

    async def delete_sales_invoice_draft(self, company_id: str, invoice_id: str) -> None:
        port = await self._port(company_id)
        await port.delete_sales_invoice_draft(company_id, invoice_id)

    # ErpBulkInvoicing

    async def post_new_sales_invoices(
        self, company_id: str, invoices: Sequence[ErpSalesInvoiceCreate]
    ) -> list[ErpSalesInvoice | BackendError]:
        port = await self._port(company_id)
        return await port.post_new_sales_invoices(company_id, invoices)

    async def bulk_invoices_per_request(self, company_id: str) -> int:
        port = await self._port(company_id)
        return await port.bulk_invoices_per_request(company_id)

    # ErpInvoiceQueries

    async def find_sales_invoice_by_number(
        self, company_id: str, number: str
    ) -> ErpSalesInvoice | None:
        port = await self._port(company_id)
        return await port.find_sales_invoice_by_number(company_id, number)

    async def list_sales_invoices(
        self, company_id: str, posted_from: date, posted_to: date
    ) -> tuple[ErpSalesInvoice, ...]:
        port = await self._port(company_id)
        return await port.list_sales_invoices(company_id, posted_from, posted_to)

    # ErpLedgerQueries

    async def list_sales_credit_memos(
        self, company_id: str, posted_from: date, posted_to: date
    ) -> tuple[ErpSalesCreditMemo, ...]:
        port = await self._port(company_id)
        return await port.list_sales_credit_memos(company_id, posted_from, posted_to)

    async def list_ledger_entries(
        self,
        company_id: str,
        posted_from: date,
        posted_to: date,
        *,
        account_number: str,
        currency: str,
    ) -> tuple[ErpLedgerEntry, ...]:
        port = await self._port(company_id)
        return await port.list_ledger_entries(
            company_id, posted_from, posted_to, account_number=account_number, currency=currency
        )

    # ErpDocumentStreams

    async def stream_sales_invoices(
        self, company_id: str, posted_from: date, posted_to: date
    ) -> AsyncIterator[ErpSalesInvoice]:
        port = await self._port(company_id)
        async for invoice in port.stream_sales_invoices(company_id, posted_from, posted_to):
            yield invoice

    async def stream_sales_credit_memos(
        self, company_id: str, posted_from: date, posted_to: date
    ) -> AsyncIterator[ErpSalesCreditMemo]:
        port = await self._port(company_id)
        async for memo in port.stream_sales_credit_memos(company_id, posted_from, posted_to):
            yield memo

    async def stream_customer_payments(
        self,
        company_id: str,
        journal_code: str,
        posted_from: date,
        posted_to: date,
        *,
        currency: str,
    ) -> AsyncIterator[ErpCustomerPayment]:
        port = await self._port(company_id)
        async for payment in port.stream_customer_payments(
            company_id, journal_code, posted_from, posted_to, currency=currency
        ):
            yield payment

    async def stream_ledger_entries(
        self,
        company_id: str,
        posted_from: date,
        posted_to: date,
        *,
        account_number: str,
        currency: str,
    ) -> AsyncIterator[ErpLedgerEntry]:
        port = await self._port(company_id)
        async for entry in port.stream_ledger_entries(
            company_id, posted_from, posted_to, account_number=account_number, currency=currency
        ):
            yield entry

    # ErpCatalog

    async def stream_items(self, company_id: str, *, currency: str) -> AsyncIterator[ErpItem]:
        port = await self._port(company_id)
        async for item in port.stream_items(company_id, currency=currency):
            yield item

    # ErpCreditMemos

    async def find_sales_credit_memo(
        self, company_id: str, external_document_number: str
    ) -> ErpSalesCreditMemo | None:
        port = await self._port(company_id)
        return await port.find_sales_credit_memo(company_id, external_document_number)

    async def create_sales_credit_memo(
        self, company_id: str, credit_memo: ErpSalesCreditMemoCreate
    ) -> ErpSalesCreditMemo:
        port = await self._port(company_id)
        return await port.create_sales_credit_memo(company_id, credit_memo)

    async def post_sales_credit_memo(
        self, company_id: str, credit_memo_id: str
    ) -> ErpSalesCreditMemo:
        port = await self._port(company_id)
        return await port.post_sales_credit_memo(company_id, credit_memo_id)

    async def delete_sales_credit_memo_draft(self, company_id: str, credit_memo_id: str) -> None:
        port = await self._port(company_id)
        await port.delete_sales_credit_memo_draft(company_id, credit_memo_id)

    async def apply_sales_credit_memo(
        self, company_id: str, application: ErpCreditMemoApplicationCreate
    ) -> ErpCreditMemoApplication:
        port = await self._port(company_id)
        return await port.apply_sales_credit_memo(company_id, application)

    # ErpJournals

    async def ensure_journal(self, company_id: str, journal: ErpJournalCreate) -> ErpJournal:
        port = await self._port(company_id)
        return await port.ensure_journal(company_id, journal)

    async def add_journal_entry(
        self, company_id: str, journal_id: str, entry: ErpJournalEntryCreate
    ) -> ErpJournalEntry:
        port = await self._port(company_id)
        return await port.add_journal_entry(company_id, journal_id, entry)

    async def post_journal_entry(
        self, company_id: str, journal_id: str, document_number: str, currency: str
    ) -> ErpJournalEntry:
        port = await self._port(company_id)
        return await port.post_journal_entry(company_id, journal_id, document_number, currency)

    # ErpPayments

    async def ensure_customer_payment_journal(
        self, company_id: str, journal: ErpJournalCreate
    ) -> ErpJournal:
        port = await self._port(company_id)
        return await port.ensure_customer_payment_journal(company_id, journal)

    async def apply_customer_payment(
        self, company_id: str, journal_id: str, payment: ErpCustomerPaymentCreate
    ) -> ErpCustomerPayment:
        port = await self._port(company_id)
        return await port.apply_customer_payment(company_id, journal_id, payment)

    async def reverse_customer_payment(
        self, company_id: str, journal_id: str, reversal: ErpCustomerPaymentReversal
    ) -> ErpCustomerPayment:
        port = await self._port(company_id)
        return await port.reverse_customer_payment(company_id, journal_id, reversal)

    # ErpSalesOrders

    async def get_customer_credit(
        self, company_id: str, number: str, *, currency: str
    ) -> ErpCustomerCredit:
        port = await self._port(company_id)
        return await port.get_customer_credit(company_id, number, currency=currency)

    async def find_sales_order(
        self, company_id: str, external_document_number: str
    ) -> ErpSalesOrder | None:
        port = await self._port(company_id)
        return await port.find_sales_order(company_id, external_document_number)

    async def create_sales_order(
        self, company_id: str, order: ErpSalesOrderCreate
    ) -> ErpSalesOrder:
        port = await self._port(company_id)
        return await port.create_sales_order(company_id, order)

    async def get_sales_order(self, company_id: str, order_id: str) -> ErpSalesOrder:
        port = await self._port(company_id)
        return await port.get_sales_order(company_id, order_id)
