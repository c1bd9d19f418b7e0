"""The ERP sandbox holding what the gateway's database says is posted (`bench.serve
erp-sandbox --mirror-posted`): a reconciliation at scale needs no hundred thousand
postings over HTTP first. Imported by the sandbox's process only."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select

from core.canonical.documents import InvoiceStatus
from core.db import create_engine
from core.models.customer import CustomerRow
from core.models.invoice import InvoiceLineRow, InvoiceRow
from core.models.legal_entity import LegalEntityRow
from core.models.payment import PaymentRow, PaymentStatus
from core.money import to_decimal
from sandboxes.business_central import BusinessCentralState, Customer
from sandboxes.business_central.documents import SalesInvoice
from system_apis.erp.mapping import sales_line_to_bc
from system_apis.erp.schemas import ErpInvoiceLine

POSTED = (InvoiceStatus.POSTED, InvoiceStatus.PAID)


async def mirror_posted_invoices(
    state: BusinessCentralState, database_url: str, payment_journal: str
) -> int:
    """Hold the database's posted and paid invoices as posted documents, with their applied
    payments in `payment_journal`; returns how many invoices."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            customers = (
                await connection.execute(
                    select(CustomerRow, LegalEntityRow.erp_company_id).join(
                        LegalEntityRow, LegalEntityRow.id == CustomerRow.legal_entity_id
                    )
                )
            ).all()
            invoices = (
                await connection.execute(select(InvoiceRow).where(InvoiceRow.status.in_(POSTED)))
            ).all()
            lines: defaultdict[str, list[ErpInvoiceLine]] = defaultdict(list)
            for line in await connection.execute(
                select(InvoiceLineRow)
                .join(InvoiceRow, InvoiceRow.id == InvoiceLineRow.invoice_id)
                .where(InvoiceRow.status.in_(POSTED))
            ):
                lines[line.invoice_id].append(
                    ErpInvoiceLine(
                        sequence=line.sequence,
                        description=line.description,
                        quantity=line.quantity,
                        unit_price=line.unit_amount,
                        tax_code=line.tax_code,
                    )
                )
            payments = (
                await connection.execute(
                    select(PaymentRow).where(PaymentRow.status == PaymentStatus.APPLIED)
                )
            ).all()
    finally:
        await engine.dispose()
    in_erp: dict[str, tuple[str, Customer]] = {}
    for row in customers:
        in_erp[row.id] = (
            row.erp_company_id,
            state.add_customer(
                row.erp_company_id,
                number=row.erp_number,
                display_name=row.name,
                email=row.email,
                currency_code=row.currency,
            ),
        )
    applied = {payment.invoice_id for payment in payments}
    in_books: dict[str, tuple[str, SalesInvoice]] = {}
    for invoice in invoices:
        company_id, customer = in_erp[invoice.customer_id]
        posted_on = invoice.posting_date or invoice.invoice_date
        in_books[invoice.id] = (
            company_id,
            state.add_posted_invoice(
                company_id,
                customer=customer,
                external_document_number=invoice.id,
                invoice_date=posted_on,
                due_date=max(invoice.due_date, posted_on),
                lines=[
                    sales_line_to_bc(line, invoice.currency).model_dump(by_alias=True)
                    for line in lines[invoice.id]
                ],
                paid=invoice.status == InvoiceStatus.PAID and invoice.id not in applied,
            ),
        )
    for payment in payments:
        company_id, erp_invoice = in_books[payment.invoice_id]
        state.add_applied_payment(
            company_id,
            journal_code=payment_journal,
            invoice=erp_invoice,
            amount=to_decimal(payment.amount, payment.currency),
            posting_date=payment.posting_date or payment.paid_on,
            external_document_number=payment.id,
        )
    return len(invoices)
