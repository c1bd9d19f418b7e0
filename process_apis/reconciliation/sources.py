"""Each side's documents of a period, as rows for the staging table.

The ERP and billing are read page by page through their ports; the gateway's tables
are copied by the database itself (`gateway_selects`), and its own adjustment
documents (an amendment's proration, a credit's reversal), which live in the
results of their workflow runs, in keyset pages.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import BigInteger, Select, String, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.canonical.documents import (
    CreditMemoKind,
    CreditSettlement,
    InvoiceStatus,
    SettlementStatus,
)
from core.ids import PREFIXES
from core.models.amendment_proration import AmendmentProrationRow
from core.models.credit_memo import CreditMemoRow
from core.models.customer import CustomerRow
from core.models.invoice import InvoiceRow
from core.models.payment import PaymentRow, PaymentSource, PaymentStatus
from core.models.payment_application import PaymentApplicationRow
from core.models.refund import RefundRow
from core.models.settlement import SettlementRow
from core.models.subscription import SubscriptionRow
from core.models.workflow_run import RunStatus, StepStatus, WorkflowRunRow, WorkflowStepRow
from core.settings import RefundPolicy
from process_apis.credits import IN_LEDGER, applied_elsewhere
from process_apis.reconciliation.schemas import DocumentType, Side
from process_apis.settlements.workflow import JOURNAL_PREFIX
from system_apis.billing.port import DocumentStreamPort
from system_apis.billing.schemas import BillingInvoiceStatus
from system_apis.erp.port import ErpDocumentStreams
from system_apis.erp.schemas import ErpSalesCreditMemo

Row = dict[str, Any]

# The staged columns, in the order `gateway_selects` select them.
COLUMNS = (
    "run_id",
    "side",
    "key",
    "document_type",
    "currency",
    "amount",
    "tax",
    "billed",
    "ref",
    "number",
    "link",
    "dated",
)
# A billing payment is linked by its invoice id under this prefix (the invoice has its own).
PAID = "paid:"
# A billing document's key until it is linked to the gateway's.
UNLINKED = "billing:"
# Billing documents are read this far either side of the period: a document billed at
# a month's end may be posted in the next one.
BILLING_MARGIN = timedelta(days=31)
AMENDMENT_WORKFLOW = "subscription_amendment"
REVERSAL_WORKFLOW = "credit_memo_reversal"
POSTED_MEMO_STEP = "post_erp_credit_memo"
RUN_PAGE = 500
REVERSAL_SUFFIX = "-R"
# The ERP's customer refund is a payment keyed by the refund's id, or by the credit
# memo's when a credit on a paid invoice was paid back: that refund is keyed apart from
# the memo, under this prefix.
REFUND_KEY = f"{PREFIXES['refund']}_"
CREDIT_KEY = f"{PREFIXES['credit_memo']}_"
CREDIT_REFUND = "refund:"


@dataclass(frozen=True)
class Scope:
    """One run's legal entity and period, as each backend knows them."""

    run_id: str
    legal_entity_id: str
    company_id: str
    functional_currency: str
    start: date
    end: date


def document_row(scope: Scope, side: Side, **values: Any) -> Row:
    row: Row = dict.fromkeys(COLUMNS)
    row.update(run_id=scope.run_id, side=side.value, **values)
    return row


_NO_TEXT = literal(None, String)
_NO_AMOUNT = literal(None, BigInteger)


def _staged(
    scope: Scope,
    document_type: DocumentType,
    *,
    key: Any,
    currency: Any,
    amount: Any,
    ref: Any,
    number: Any,
    dated: Any,
    tax: Any = _NO_AMOUNT,
    billed: Any = _NO_AMOUNT,
    link: Any = _NO_TEXT,
) -> Select[Any]:
    """A gateway table's columns as the staging table's, in `COLUMNS` order."""
    return select(
        literal(scope.run_id, String),
        literal(Side.GATEWAY.value, String),
        key,
        literal(document_type.value, String),
        currency,
        amount,
        tax,
        billed,
        ref,
        number,
        link,
        dated,
    )


def gateway_selects(scope: Scope) -> list[Select[Any]]:
    """One `SELECT` per kind of gateway document, for `INSERT ... SELECT`."""
    return [
        _invoices(scope),
        _credit_memos(scope),
        *_payments(scope),
        _payment_reversals(scope),
        _payment_applications(scope),
        _payment_application_reversals(scope),
        _refunds(scope),
        _credit_refunds(scope),
        _settlements(scope),
    ]


def _invoices(scope: Scope) -> Select[Any]:
    """An invoice billing collected amendments' prorations with is billed for those too
    (each amendment's ERP document is reconciled as an adjustment of its own)."""
    collected = (
        select(
            func.coalesce(
                func.sum(
                    case(
                        (
                            AmendmentProrationRow.amount < 0,
                            -AmendmentProrationRow.erp_total_including_tax,
                        ),
                        else_=AmendmentProrationRow.erp_total_including_tax,
                    )
                ),
                0,
            )
        )
        .where(AmendmentProrationRow.invoice_id == InvoiceRow.id)
        .scalar_subquery()
    )
    return _staged(
        scope,
        DocumentType.INVOICE,
        key=InvoiceRow.id,
        currency=InvoiceRow.currency,
        amount=InvoiceRow.total,
        tax=InvoiceRow.tax_total,
        billed=InvoiceRow.total + collected,
        ref=InvoiceRow.id,
        number=InvoiceRow.erp_document_number,
        link=InvoiceRow.billing_ref,
        dated=InvoiceRow.posting_date,
    ).where(
        InvoiceRow.legal_entity_id == scope.legal_entity_id,
        InvoiceRow.status.in_((InvoiceStatus.POSTED, InvoiceStatus.PAID)),
        InvoiceRow.posting_date.between(scope.start, scope.end),
    )


def _credit_memos(scope: Scope) -> Select[Any]:
    """A memo reached the ERP when the ERP acknowledged it; one later withdrawn stays
    there, and its reversal is an adjustment of its own."""
    return _staged(
        scope,
        DocumentType.CREDIT_MEMO,
        key=CreditMemoRow.id,
        currency=CreditMemoRow.currency,
        amount=CreditMemoRow.erp_total_including_tax,
        # Billing's credit note is issued for what the ERP credited, tax included.
        billed=CreditMemoRow.erp_total_including_tax,
        ref=CreditMemoRow.id,
        number=CreditMemoRow.erp_document_number,
        link=CreditMemoRow.billing_ref,
        dated=CreditMemoRow.posting_date,
    ).where(
        CreditMemoRow.legal_entity_id == scope.legal_entity_id,
        CreditMemoRow.erp_total_including_tax.is_not(None),
        CreditMemoRow.posting_date.between(scope.start, scope.end),
    )


def _payments(scope: Scope) -> tuple[Select[Any], Select[Any]]:
    """Payments in the ERP's ledger: billing's are linked to the invoice billing marked
    paid; one made directly has no billing side. One the customer's credit balance paid in
    full moved no cash (its credit memos are reconciled as credit memos): none."""
    in_scope = (
        PaymentRow.legal_entity_id == scope.legal_entity_id,
        PaymentRow.status.in_(IN_LEDGER),
        PaymentRow.amount > 0,
        PaymentRow.posting_date.between(scope.start, scope.end),
    )
    columns = {
        "key": PaymentRow.id,
        "currency": PaymentRow.currency,
        "amount": PaymentRow.amount - applied_elsewhere(),
        "ref": PaymentRow.id,
        "number": PaymentRow.erp_document_number,
        "dated": PaymentRow.posting_date,
    }
    billed = _staged(
        scope,
        DocumentType.PAYMENT,
        billed=PaymentRow.amount,
        link=literal(PAID, String) + PaymentRow.source_ref,
        **columns,
    ).where(*in_scope, PaymentRow.source == PaymentSource.BILLING)
    direct = _staged(scope, DocumentType.PAYMENT, **columns).where(
        *in_scope, PaymentRow.source != PaymentSource.BILLING
    )
    return billed, direct


def _payment_applications(scope: Scope) -> Select[Any]:
    """The part of a payment's cash applied to a collected upgrade's ERP invoice: its own
    ERP entry, keyed `<payment id>-A<n>` (billing's side is the payment's whole amount)."""
    return (
        _staged(
            scope,
            DocumentType.PAYMENT,
            key=PaymentApplicationRow.id,
            currency=PaymentRow.currency,
            amount=PaymentApplicationRow.amount,
            ref=PaymentRow.id,
            number=PaymentApplicationRow.erp_document_number,
            dated=PaymentRow.posting_date,
        )
        .join(PaymentRow, PaymentRow.id == PaymentApplicationRow.payment_id)
        .where(
            PaymentRow.legal_entity_id == scope.legal_entity_id,
            PaymentRow.status.in_(IN_LEDGER),
            PaymentRow.posting_date.between(scope.start, scope.end),
        )
    )


def _payment_application_reversals(scope: Scope) -> Select[Any]:
    """Each such part's reversing entry, keyed `<payment id>-A<n>-R`."""
    return (
        _staged(
            scope,
            DocumentType.PAYMENT,
            key=PaymentApplicationRow.id + literal(REVERSAL_SUFFIX, String),
            currency=PaymentRow.currency,
            amount=-PaymentApplicationRow.amount,
            ref=PaymentRow.id,
            number=PaymentApplicationRow.reversal_document_number,
            dated=PaymentRow.reversal_posting_date,
        )
        .join(PaymentRow, PaymentRow.id == PaymentApplicationRow.payment_id)
        .where(
            PaymentRow.legal_entity_id == scope.legal_entity_id,
            PaymentRow.status == PaymentStatus.REVERSED,
            PaymentRow.reversal_posting_date.between(scope.start, scope.end),
        )
    )


def _payment_reversals(scope: Scope) -> Select[Any]:
    """A reversed payment's reversing entry: the amount taken back, keyed `<payment id>-R`."""
    return _staged(
        scope,
        DocumentType.PAYMENT,
        key=PaymentRow.id + literal(REVERSAL_SUFFIX, String),
        currency=PaymentRow.currency,
        amount=-(PaymentRow.amount - applied_elsewhere()),
        ref=PaymentRow.id,
        number=PaymentRow.reversal_document_number,
        dated=PaymentRow.reversal_posting_date,
    ).where(
        PaymentRow.legal_entity_id == scope.legal_entity_id,
        PaymentRow.status == PaymentStatus.REVERSED,
        PaymentRow.reversal_posting_date.between(scope.start, scope.end),
    )


def _refunds(scope: Scope) -> Select[Any]:
    """Billing's refunds the ERP owes a customer refund (by the legal entity's policy),
    booked or not: the amount taken back, dated as their credit memo once it has a date.
    A refund that adopted a credit paid back is that credit's (`_credit_refunds`)."""
    dated = func.coalesce(CreditMemoRow.posting_date, RefundRow.refunded_on)
    return (
        _staged(
            scope,
            DocumentType.REFUND,
            key=RefundRow.id,
            currency=RefundRow.currency,
            amount=-RefundRow.amount,
            ref=RefundRow.id,
            number=RefundRow.erp_refund_document_number,
            dated=dated,
        )
        .join(CreditMemoRow, CreditMemoRow.id == RefundRow.credit_memo_id)
        .where(
            RefundRow.legal_entity_id == scope.legal_entity_id,
            RefundRow.policy == RefundPolicy.CREDIT_MEMO_AND_REFUND,
            CreditMemoRow.kind == CreditMemoKind.REFUND,
            dated.between(scope.start, scope.end),
        )
    )


def _credit_refunds(scope: Scope) -> Select[Any]:
    """The customer refund that paid back a posted credit on a paid invoice, booked by the
    credit's run under the memo's number: keyed `refund:<memo id>`, beside the memo."""
    return _staged(
        scope,
        DocumentType.REFUND,
        key=literal(CREDIT_REFUND, String) + CreditMemoRow.id,
        currency=CreditMemoRow.currency,
        amount=-CreditMemoRow.erp_total_including_tax,
        ref=CreditMemoRow.id,
        number=_NO_TEXT,
        dated=CreditMemoRow.posting_date,
    ).where(
        CreditMemoRow.legal_entity_id == scope.legal_entity_id,
        CreditMemoRow.settlement == CreditSettlement.REFUND,
        CreditMemoRow.erp_total_including_tax.is_not(None),
        CreditMemoRow.posting_date.between(scope.start, scope.end),
    )


def _settlements(scope: Scope) -> Select[Any]:
    return _staged(
        scope,
        DocumentType.SETTLEMENT,
        key=SettlementRow.journal_document_number,
        currency=SettlementRow.currency,
        amount=SettlementRow.total_commission,
        ref=SettlementRow.id,
        number=SettlementRow.journal_document_number,
        dated=SettlementRow.posting_date,
    ).where(
        SettlementRow.legal_entity_id == scope.legal_entity_id,
        SettlementRow.status.in_((SettlementStatus.POSTED, SettlementStatus.PAID)),
        SettlementRow.journal_document_number.is_not(None),
        SettlementRow.posting_date.between(scope.start, scope.end),
    )


async def gateway_adjustments(
    sessionmaker: async_sessionmaker[AsyncSession], scope: Scope
) -> AsyncIterator[Row]:
    """The ERP documents the gateway's amendments and credit reversals posted, dated in scope."""
    async for row in _amendment_adjustments(sessionmaker, scope):
        yield row
    async for row in _credit_reversals(sessionmaker, scope):
        yield row


async def _amendment_adjustments(
    sessionmaker: async_sessionmaker[AsyncSession], scope: Scope
) -> AsyncIterator[Row]:
    """An amendment's proration invoice or memo, keyed by the amendment's run."""
    amendments = (
        select(WorkflowRunRow.id, WorkflowRunRow.result, WorkflowRunRow.finished_at)
        .join(SubscriptionRow, SubscriptionRow.id == WorkflowRunRow.subject_id)
        .join(CustomerRow, CustomerRow.id == SubscriptionRow.customer_id)
        .where(
            WorkflowRunRow.workflow == AMENDMENT_WORKFLOW,
            CustomerRow.legal_entity_id == scope.legal_entity_id,
        )
    )
    async for run_id, result, _ in _succeeded(sessionmaker, amendments):
        adjustment = (result or {}).get("erp_adjustment")
        if adjustment is None:
            continue
        dated = date.fromisoformat(adjustment["posting_date"])
        if scope.start <= dated <= scope.end:
            yield _adjustment(scope, run_id, adjustment, dated)


async def _credit_reversals(
    sessionmaker: async_sessionmaker[AsyncSession], scope: Scope
) -> AsyncIterator[Row]:
    """A discarded credit's reversing invoice (`<memo id>-R`), and the memo itself when the
    discarded run never recorded the memo it had posted."""
    reversals = (
        select(WorkflowRunRow.id, WorkflowRunRow.result, WorkflowRunRow.finished_at)
        .join(CreditMemoRow, CreditMemoRow.id == WorkflowRunRow.subject_id)
        .add_columns(WorkflowRunRow.params, CreditMemoRow.id, CreditMemoRow.erp_total_including_tax)
        .where(
            WorkflowRunRow.workflow == REVERSAL_WORKFLOW,
            CreditMemoRow.legal_entity_id == scope.legal_entity_id,
        )
    )
    async for _, result, finished_at, params, memo_id, recorded in _succeeded(
        sessionmaker, reversals
    ):
        reversal = result or {}
        posted_on = reversal.get("reversing_posting_date")
        dated = date.fromisoformat(posted_on) if posted_on else finished_at.date()
        if scope.start <= dated <= scope.end:
            yield document_row(
                scope,
                Side.GATEWAY,
                key=f"{memo_id}-R",
                document_type=DocumentType.ADJUSTMENT.value,
                currency=reversal.get("currency") or scope.functional_currency,
                amount=reversal["reversed_total_including_tax"],
                ref=f"{memo_id}-R",
                number=reversal.get("reversing_invoice_number"),
                dated=dated,
            )
        if recorded is None:
            memo = await _posted_memo(sessionmaker, params["discarded_run_id"])
            posted = memo.posting_date if memo else None
            if memo is not None and posted is not None and scope.start <= posted <= scope.end:
                yield document_row(
                    scope,
                    Side.GATEWAY,
                    key=memo_id,
                    document_type=DocumentType.CREDIT_MEMO.value,
                    currency=memo.currency,
                    amount=memo.total_including_tax,
                    billed=memo.total_including_tax,
                    ref=memo_id,
                    number=memo.number,
                    link=params.get("billing_credit_note"),
                    dated=posted,
                )


async def _posted_memo(
    sessionmaker: async_sessionmaker[AsyncSession], run_id: str
) -> ErpSalesCreditMemo | None:
    """The ERP credit memo a run posted, as the ERP answered it."""
    async with sessionmaker() as session:
        outcome = await session.scalar(
            select(WorkflowStepRow.outcome).where(
                WorkflowStepRow.run_id == run_id,
                WorkflowStepRow.name == POSTED_MEMO_STEP,
                WorkflowStepRow.status == StepStatus.SUCCEEDED,
            )
        )
    if outcome is None:
        return None
    return ErpSalesCreditMemo.model_validate(outcome)


def _adjustment(scope: Scope, run_id: str, adjustment: dict[str, Any], dated: date) -> Row:
    return document_row(
        scope,
        Side.GATEWAY,
        key=run_id,
        document_type=DocumentType.ADJUSTMENT.value,
        currency=adjustment["currency"],
        amount=adjustment["total_including_tax"],
        ref=run_id,
        number=adjustment.get("document_number"),
        dated=dated,
    )


async def _succeeded(
    sessionmaker: async_sessionmaker[AsyncSession], query: Select[Any]
) -> AsyncIterator[Any]:
    """The succeeded runs `query` selects, in keyset pages by run id, a session per page."""
    after = ""
    while True:
        async with sessionmaker() as session:
            page = (
                await session.execute(
                    query.where(
                        WorkflowRunRow.status == RunStatus.SUCCEEDED, WorkflowRunRow.id > after
                    )
                    .order_by(WorkflowRunRow.id)
                    .limit(RUN_PAGE)
                )
            ).all()
        for row in page:
            yield row
        if len(page) < RUN_PAGE:
            return
        after = page[-1][0]


async def erp_documents(
    erp: ErpDocumentStreams, scope: Scope, *, payment_journal: str, payable_account: str
) -> AsyncIterator[Row]:
    """The ERP's posted invoices, credit memos, payments (a customer refund among them)
    and settlement journal entries."""
    company, start, end = scope.company_id, scope.start, scope.end
    async for invoice in erp.stream_sales_invoices(company, start, end):
        yield _erp_row(scope, DocumentType.INVOICE, invoice.external_document_number, invoice)
    async for memo in erp.stream_sales_credit_memos(company, start, end):
        yield _erp_row(scope, DocumentType.CREDIT_MEMO, memo.external_document_number, memo)
    async for payment in erp.stream_customer_payments(
        company, payment_journal, start, end, currency=scope.functional_currency
    ):
        key = payment.external_document_number or f"erp:{payment.id}"
        if key.startswith(CREDIT_KEY):
            key = f"{CREDIT_REFUND}{key}"
        refund = key.startswith((REFUND_KEY, CREDIT_REFUND))
        yield document_row(
            scope,
            Side.ERP,
            key=key,
            document_type=(DocumentType.REFUND if refund else DocumentType.PAYMENT).value,
            currency=payment.currency,
            amount=payment.amount,
            ref=payment.id,
            number=payment.document_number,
            dated=payment.posting_date,
        )
    async for row in erp_journal_rows(
        erp,
        scope,
        account_number=payable_account,
        prefix=JOURNAL_PREFIX,
        document_type=DocumentType.SETTLEMENT,
    ):
        yield row


async def erp_journal_rows(
    erp: ErpDocumentStreams,
    scope: Scope,
    *,
    account_number: str,
    prefix: str,
    document_type: DocumentType,
) -> AsyncIterator[Row]:
    """The account's ledger entries of the period from our journals (numbered `prefix`…):
    what each journal moved on it."""
    async for entry in erp.stream_ledger_entries(
        scope.company_id,
        scope.start,
        scope.end,
        account_number=account_number,
        currency=scope.functional_currency,
    ):
        number = entry.document_number or ""
        if number.startswith(prefix):
            yield document_row(
                scope,
                Side.ERP,
                key=number,
                document_type=document_type.value,
                currency=scope.functional_currency,
                amount=entry.credit - entry.debit,
                number=number,
                dated=entry.posting_date,
            )


def _erp_row(scope: Scope, document_type: DocumentType, external: str | None, document: Any) -> Row:
    return document_row(
        scope,
        Side.ERP,
        key=external or f"erp:{document.number or document.id}",
        document_type=document_type.value,
        currency=document.currency,
        amount=document.total_including_tax,
        tax=document.total_tax,
        ref=document.id,
        number=document.number,
        dated=document.posting_date,
    )


async def billing_documents(billing: DocumentStreamPort, scope: Scope) -> AsyncIterator[Row]:
    """Billing's finalized invoices, the payments on them, and its credit notes."""
    # The margin stops at the calendar's ends: a period in year 1 or 9999 is valid input.
    start = date.min + BILLING_MARGIN if scope.start - date.min < BILLING_MARGIN else scope.start
    end = date.max - BILLING_MARGIN if date.max - scope.end < BILLING_MARGIN else scope.end
    created_from = datetime.combine(start - BILLING_MARGIN, time(), tzinfo=UTC)
    created_to = datetime.combine(end + BILLING_MARGIN, time.max, tzinfo=UTC)
    async for invoice in billing.stream_invoices(created_from=created_from, created_to=created_to):
        if invoice.status in (BillingInvoiceStatus.DRAFT, BillingInvoiceStatus.VOID):
            continue
        created = invoice.created_at.date() if invoice.created_at else None
        yield _billing_row(
            scope, DocumentType.INVOICE, invoice.id, invoice.currency, invoice.total, created
        ) | {"tax": invoice.tax}
        if invoice.status == BillingInvoiceStatus.PAID and invoice.amount_paid:
            paid = invoice.paid_at.date() if invoice.paid_at else created
            yield _billing_row(
                scope,
                DocumentType.PAYMENT,
                f"{PAID}{invoice.id}",
                invoice.currency,
                invoice.amount_paid,
                paid,
            )
    async for note in billing.stream_credit_notes(created_from=created_from, created_to=created_to):
        yield _billing_row(
            scope,
            DocumentType.CREDIT_MEMO,
            note.id,
            note.currency,
            note.total,
            note.created_at.date(),
        )


def _billing_row(
    scope: Scope,
    document_type: DocumentType,
    link: str,
    currency: str,
    amount: int,
    dated: date | None,
) -> Row:
    return document_row(
        scope,
        Side.BILLING,
        key=f"{UNLINKED}{link}",
        document_type=document_type.value,
        currency=currency,
        amount=amount,
        ref=link.removeprefix(PAID),
        link=link,
        dated=dated,
    )
