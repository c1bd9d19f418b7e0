"""v2 bodies ⇄ the canonical invoice, so that v2 runs exactly the v1 services and workflow.

Requests are mapped to `InvoiceCreate`, whose validators are the business rules; a
rule it refuses comes back as a validation problem whose pointers name the v2 fields
(`#/lines/0/unit_price/amount`, not `#/lines/0/unit_amount`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from core.canonical.documents import InvoiceCreate, InvoicePosting
from core.errors import LedgergateError
from core.money import Money
from process_apis.invoices.schemas import InvoiceCredit, InvoiceResource, PostingResult
from process_apis.invoices.v2.schemas import (
    CreditedLineV2,
    ErpDocumentV2,
    InvoiceCreateV2,
    InvoiceCreditMemoV2,
    InvoiceCreditV2,
    InvoiceLineV2,
    InvoicePostingV2,
    InvoiceTotalsV2,
    InvoiceV2,
    PostingResultV2,
    PostingRunV2,
)

Location = tuple[str | int, ...]

# Canonical field → where v2 carries it; fields not listed have the same name in both.
_LINE_FIELDS: dict[str, Location] = {
    "unit_amount": ("unit_price", "amount"),
    "amount": ("amount", "amount"),
    "tax_amount": ("tax", "amount"),
}
_INVOICE_FIELDS: dict[str, Location] = {
    "currency": ("totals", "total", "currency"),
    "subtotal": ("totals", "subtotal", "amount"),
    "tax_total": ("totals", "tax", "amount"),
    "total": ("totals", "total", "amount"),
}


def v2_location(location: Location) -> Location:
    """Where a canonical invoice field sits in a v2 body."""
    match location:
        case ("lines", int() as index, str() as name, *rest):
            return ("lines", index, *_LINE_FIELDS.get(name, (name,)), *rest)
        case (str() as name, *rest):
            return (*_INVOICE_FIELDS.get(name, (name,)), *rest)
    return location


def _pointer(location: Location) -> str:
    return "#/" + "/".join(str(part) for part in location)


@contextmanager
def v2_pointers() -> Iterator[None]:
    """Rewrites the JSON pointer of a domain problem raised inside into v2 terms."""
    try:
        yield
    except LedgergateError as error:
        pointer = error.extensions.get("pointer")
        if isinstance(pointer, str) and pointer.startswith("#/"):
            parts = tuple(int(p) if p.isdigit() else p for p in pointer[2:].split("/") if p)
            error.extensions["pointer"] = _pointer(v2_location(parts))
        raise


def _moneys(data: InvoiceCreateV2) -> Iterator[tuple[Location, Money]]:
    """Every amount of the body, with where it is, in document order."""
    for index, line in enumerate(data.lines):
        for name in ("unit_price", "amount", "tax"):
            yield ("lines", index, name), getattr(line, name)
    for name in ("subtotal", "tax", "total"):
        yield ("totals", name), getattr(data.totals, name)


def _currency(data: InvoiceCreateV2) -> str:
    """The invoice's one currency; every amount that disagrees with it is an error."""
    moneys = list(_moneys(data))
    currency = Counter(money.currency for _, money in moneys).most_common(1)[0][0]
    errors = [
        {
            "loc": ("body", *location, "currency"),
            "msg": f"{money.currency} disagrees with the invoice's currency {currency}: "
            "every amount of an invoice is in the same currency",
            "type": "currency_disagreement",
        }
        for location, money in moneys
        if money.currency != currency
    ]
    if errors:
        raise RequestValidationError(errors)
    return currency


def invoice_create(data: InvoiceCreateV2) -> InvoiceCreate:
    """The canonical invoice of a v2 body; refusals are 422 problems with v2 pointers."""
    currency = _currency(data)
    canonical: dict[str, Any] = {
        "customer_id": data.customer_id,
        "currency": currency,
        "invoice_date": data.invoice_date,
        "due_date": data.due_date,
        "lines": [
            {
                "description": line.description,
                "quantity": line.quantity,
                "unit_amount": line.unit_price.amount,
                "amount": line.amount.amount,
                "tax_code": line.tax_code,
                "tax_amount": line.tax.amount,
                "product_id": line.product_id,
            }
            for line in data.lines
        ],
        "subtotal": data.totals.subtotal.amount,
        "tax_total": data.totals.tax.amount,
        "total": data.totals.total.amount,
        "subscription_id": data.subscription_id,
    }
    try:
        return InvoiceCreate.model_validate(canonical)
    except ValidationError as error:
        raise RequestValidationError(
            [
                {"loc": ("body", *v2_location(e["loc"])), "msg": e["msg"], "type": e["type"]}
                for e in error.errors()
            ]
        ) from None


def posting(canonical: InvoicePosting) -> InvoicePostingV2:
    document = None
    if canonical.erp_document_id is not None:
        document = ErpDocumentV2(id=canonical.erp_document_id, number=canonical.erp_document_number)
    return InvoicePostingV2(
        posting_date=canonical.posting_date, posted_at=canonical.posted_at, erp_document=document
    )


def invoice(resource: InvoiceResource) -> InvoiceV2:
    def money(amount: int) -> Money:
        return Money(amount=amount, currency=resource.currency)

    return InvoiceV2(
        id=resource.id,
        version=resource.version,
        created_at=resource.created_at,
        updated_at=resource.updated_at,
        customer_id=resource.customer_id,
        legal_entity_id=resource.legal_entity_id,
        subscription_id=resource.subscription_id,
        invoice_date=resource.invoice_date,
        due_date=resource.due_date,
        status=resource.status,
        lines=[
            InvoiceLineV2(
                id=line.id,
                sequence=line.sequence,
                description=line.description,
                quantity=line.quantity,
                unit_price=money(line.unit_amount),
                amount=money(line.amount),
                tax_code=line.tax_code,
                tax=money(line.tax_amount),
                product_id=line.product_id,
            )
            for line in resource.lines
        ],
        totals=InvoiceTotalsV2(
            subtotal=money(resource.subtotal),
            tax=money(resource.tax_total),
            total=money(resource.total),
        ),
        posting=posting(resource.posting),
        refs=resource.refs,
        last_run=resource.last_run,
        credit=credit(resource.credit, money) if resource.credit is not None else None,
    )


def credit(canonical: InvoiceCredit, money: Callable[[int], Money]) -> InvoiceCreditV2:
    """The invoice's credit with money objects."""
    return InvoiceCreditV2(
        status=canonical.status,
        credited=money(canonical.amount_credited),
        paid=money(canonical.amount_paid),
        credit_applied=money(canonical.amount_credit_applied),
        due=money(canonical.amount_due),
        disputed=money(canonical.amount_disputed),
        credit_memos=[
            InvoiceCreditMemoV2(
                id=memo.id,
                kind=memo.kind,
                status=memo.status,
                amount=money(memo.amount),
                erp_total=None
                if memo.erp_total_including_tax is None
                else money(memo.erp_total_including_tax),
                lines=[
                    CreditedLineV2(
                        invoice_line_id=line.invoice_line_id,
                        quantity=line.quantity,
                        amount=money(line.amount),
                        tax=money(line.tax_amount),
                    )
                    for line in memo.lines
                ],
            )
            for memo in canonical.credit_memos
        ],
    )


def posting_result(result: PostingResult) -> PostingResultV2:
    return PostingResultV2(
        invoice_id=result.invoice_id,
        state=result.state,
        already_posted=result.already_posted,
        posting=posting(result.posting),
        run=PostingRunV2(id=result.run_id, url=result.run_url, retry_at=result.retry_at),
    )
