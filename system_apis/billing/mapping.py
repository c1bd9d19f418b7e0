"""Canonical billing objects ⇄ Stripe's wire format, as pure functions.

Stripe takes `application/x-www-form-urlencoded` bodies and query strings with
nested values in bracket notation (`metadata[ledgergate_id]=cus_...`,
`expand[]=customer`, `lines[0][amount]=100`); `encode_form` produces them.
Timestamps are unix seconds on the wire and aware UTC datetimes here.
Stripe has no customer currency parameter (a customer's `currency` is set by its
first invoice), so the canonical currency travels in `metadata[currency]` next to
our reference in `metadata[ledgergate_id]`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from system_apis.billing.adapters.stripe_wire import (
    StripeCharge,
    StripeCreditNote,
    StripeCustomer,
    StripeDispute,
    StripeEvent,
    StripeInvoice,
    StripeInvoiceLine,
    StripeList,
    StripePrice,
    StripeProduct,
    StripeSubscription,
    StripeUpcomingInvoice,
    StripeUsageRecord,
)
from system_apis.billing.schemas import (
    BillingCharge,
    BillingCreditNote,
    BillingCreditNoteCreate,
    BillingCreditNoteLine,
    BillingCreditNoteLineCreate,
    BillingCreditNotePage,
    BillingCreditNoteType,
    BillingCustomer,
    BillingCustomerCreate,
    BillingCustomerUpdate,
    BillingDispute,
    BillingDisputeStatus,
    BillingEvent,
    BillingEventType,
    BillingInterval,
    BillingInvoice,
    BillingInvoiceLine,
    BillingInvoiceStatus,
    BillingPage,
    BillingPrice,
    BillingPriceCreate,
    BillingPricePage,
    BillingProduct,
    BillingProductCreate,
    BillingRefund,
    BillingSubscription,
    BillingSubscriptionChange,
    BillingSubscriptionCreate,
    BillingSubscriptionItem,
    BillingSubscriptionStatus,
    BillingUsageRecord,
    BillingUsageReport,
    CreditNoteReason,
    ProrationLine,
    ProrationPreview,
)

REFERENCE_KEY = "ledgergate_id"
CURRENCY_KEY = "currency"

FormData = dict[str, str | list[str]]


def encode_form(params: Mapping[str, Any]) -> FormData:
    """Flatten nested params into Stripe's bracket notation, as httpx `data=`/`params=`.

    Dicts nest as `key[sub]`, lists of scalars as `key[]` (a list value: httpx repeats
    the key), lists of dicts as `key[0][sub]`; booleans become `"true"`/`"false"`;
    `None` (and therefore an empty container) produces nothing. Order is kept.
    """
    form: FormData = {}
    for name, value in _encode_pairs(params, prefix=None):
        if name.endswith("[]"):
            values = form.setdefault(name, [])
            assert isinstance(values, list)  # only `[]` names hold lists
            values.append(value)
        else:
            form[name] = value
    return form


def _encode_pairs(params: Mapping[str, Any], *, prefix: str | None) -> Iterator[tuple[str, str]]:
    for key, value in params.items():
        name = key if prefix is None else f"{prefix}[{key}]"
        yield from _encode_value(name, value)


def _encode_value(name: str, value: Any) -> Iterator[tuple[str, str]]:
    if value is None:
        return
    if isinstance(value, Mapping):
        yield from _encode_pairs(value, prefix=name)
    elif isinstance(value, Sequence) and not isinstance(value, str | bytes):
        for index, item in enumerate(value):
            if isinstance(item, Mapping):
                yield from _encode_pairs(item, prefix=f"{name}[{index}]")
            else:
                yield from _encode_value(f"{name}[]", item)
    elif isinstance(value, bool):
        yield name, "true" if value else "false"
    elif isinstance(value, int | str):
        yield name, str(value)
    else:
        raise TypeError(f"cannot form-encode {name}={value!r} ({type(value).__name__})")


def customer_create_params(customer: BillingCustomerCreate) -> dict[str, Any]:
    """`POST /v1/customers` params for a canonical customer."""
    return {
        "name": customer.name,
        "email": customer.email,
        "metadata": {REFERENCE_KEY: customer.reference, CURRENCY_KEY: customer.currency.lower()},
    }


def customer_update_params(customer: BillingCustomerUpdate) -> dict[str, Any]:
    """`POST /v1/customers/{customer}` params; an empty `email` unsets it, as Stripe documents."""
    return {"name": customer.name, "email": customer.email or ""}


def list_invoices_params(
    *, customer_id: str | None, limit: int, cursor: str | None
) -> dict[str, Any]:
    """`GET /v1/invoices` query params; the cursor is the last invoice id of a page."""
    return {"customer": customer_id, "limit": limit, "starting_after": cursor}


def customer_from_stripe(customer: StripeCustomer) -> BillingCustomer:
    """A Stripe customer as canonical; its own currency wins over the one we stored."""
    currency = customer.currency or customer.metadata.get(CURRENCY_KEY)
    return BillingCustomer(
        id=customer.id,
        reference=customer.metadata.get(REFERENCE_KEY),
        name=customer.name,
        email=customer.email,
        currency=currency.upper() if currency else None,
        created_at=datetime.fromtimestamp(customer.created, tz=UTC),
    )


def invoice_from_stripe(invoice: StripeInvoice) -> BillingInvoice:
    """A Stripe invoice as canonical. No tax rates means Stripe reports `tax: null`.

    Its lines are kept only when Stripe sent all of them (`has_more` false).
    """
    lines = invoice.lines
    return BillingInvoice(
        id=invoice.id,
        customer_id=invoice.customer,
        currency=invoice.currency.upper(),
        status=BillingInvoiceStatus(invoice.status),
        subtotal=invoice.subtotal,
        tax=invoice.tax or 0,
        total=invoice.total,
        amount_paid=invoice.amount_paid,
        balance_applied=balance_applied(invoice.total, invoice.starting_balance),
        reference=(invoice.metadata or {}).get(REFERENCE_KEY),
        subscription_id=invoice.subscription,
        due_date=_time(invoice.due_date).date() if invoice.due_date is not None else None,
        created_at=None if invoice.created is None else _time(invoice.created),
        paid_at=_time(paid_at)
        if invoice.status_transitions and (paid_at := invoice.status_transitions.paid_at)
        else None,
        lines=None
        if lines is None or lines.has_more
        else tuple(invoice_line_from_stripe(line) for line in lines.data),
        charge_id=invoice.charge,
    )


def balance_applied(total: int, starting_balance: int) -> int:
    """What a credit balance (Stripe's negative `starting_balance`) paid of an invoice of
    `total`: the credit, up to the total; a debit balance or a credit invoice takes none."""
    return max(0, min(total, -starting_balance))


def invoice_line_from_stripe(line: StripeInvoiceLine) -> BillingInvoiceLine:
    return BillingInvoiceLine(
        description=line.description,
        quantity=line.quantity or 1,
        amount=line.amount,
        tax=sum(tax.amount for tax in line.tax_amounts),
        price_id=line.price.id if line.price else None,
        proration=line.proration,
        period_start=_time(line.period.start),
        period_end=_time(line.period.end),
    )


def invoice_page_from_stripe(page: StripeList[StripeInvoice]) -> BillingPage:
    """A Stripe list as a canonical page; `has_more` makes the last id the next cursor."""
    return BillingPage(
        invoices=tuple(invoice_from_stripe(invoice) for invoice in page.data),
        next_cursor=page.data[-1].id if page.has_more and page.data else None,
    )


def _time(value: int) -> datetime:
    return datetime.fromtimestamp(value, tz=UTC)


def _unix(value: datetime | None) -> int | None:
    """Unix seconds; a naive datetime is taken as UTC."""
    if value is None:
        return None
    return int((value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp())


def _reference(reference: str | None) -> dict[str, str] | None:
    return None if reference is None else {REFERENCE_KEY: reference}


# --- params ----------------------------------------------------------------------------


def pay_invoice_params(*, paid_out_of_band: bool) -> dict[str, Any]:
    """`POST /v1/invoices/{invoice}/pay` params."""
    return {"paid_out_of_band": paid_out_of_band}


def product_create_params(product: BillingProductCreate) -> dict[str, Any]:
    """`POST /v1/products` params."""
    return {
        "name": product.name,
        "description": product.description,
        "metadata": _reference(product.reference),
    }


def price_create_params(price: BillingPriceCreate) -> dict[str, Any]:
    """`POST /v1/prices` params; `recurring` only for a recurring price."""
    recurring = (
        None
        if price.interval is None
        else {"interval": price.interval.value, "interval_count": price.interval_count}
    )
    if recurring is not None and price.metered:
        # We always `set` the period's total so far: the last record is the period's usage.
        recurring |= {"usage_type": "metered", "aggregate_usage": "last_during_period"}
    return {
        "product": price.product_id,
        "currency": price.currency.lower(),
        "unit_amount": price.unit_amount,
        "recurring": recurring,
        "nickname": price.nickname,
        "metadata": _reference(price.reference),
    }


def usage_record_params(report: BillingUsageReport) -> dict[str, Any]:
    """`POST /v1/subscription_items/{id}/usage_records` params: always `action=set`."""
    return {"quantity": report.quantity, "timestamp": _unix(report.timestamp), "action": "set"}


def usage_record_from_stripe(record: StripeUsageRecord) -> BillingUsageRecord:
    return BillingUsageRecord(
        id=record.id,
        subscription_item_id=record.subscription_item,
        quantity=record.quantity,
        timestamp=_time(record.timestamp),
    )


def list_prices_params(*, product_id: str | None, limit: int, cursor: str | None) -> dict[str, Any]:
    """`GET /v1/prices` query params."""
    return {"product": product_id, "limit": limit, "starting_after": cursor}


def subscription_create_params(subscription: BillingSubscriptionCreate) -> dict[str, Any]:
    """`POST /v1/subscriptions` params."""
    return {
        "customer": subscription.customer_id,
        "items": [
            {"price": item.price_id, "quantity": item.quantity} for item in subscription.items
        ],
        "metadata": _reference(subscription.reference),
        "proration_behavior": subscription.proration_behavior.value,
    }


def _item_changes(change: BillingSubscriptionChange) -> list[dict[str, Any]]:
    return [
        {
            "id": item.item_id,
            "price": item.price_id,
            "quantity": item.quantity,
            "deleted": True if item.deleted else None,
        }
        for item in change.items
    ]


def subscription_change_params(change: BillingSubscriptionChange) -> dict[str, Any]:
    """`POST /v1/subscriptions/{id}` params for an item change."""
    return {
        "items": _item_changes(change),
        "proration_behavior": change.proration_behavior.value,
        "proration_date": _unix(change.proration_date),
    }


def upcoming_invoice_params(
    subscription_id: str, change: BillingSubscriptionChange
) -> dict[str, Any]:
    """`GET /v1/invoices/upcoming` query params previewing `change` on a subscription."""
    return {
        "subscription": subscription_id,
        "subscription_items": _item_changes(change),
        "subscription_proration_behavior": change.proration_behavior.value,
        "subscription_proration_date": _unix(change.proration_date),
    }


def cancel_subscription_params(*, prorate: bool, invoice_now: bool) -> dict[str, Any]:
    """`DELETE /v1/subscriptions/{id}` params (the 2020-08-27 API's names)."""
    return {"prorate": prorate, "invoice_now": invoice_now}


def _credit_note_line(line: BillingCreditNoteLineCreate) -> dict[str, Any]:
    if line.invoice_line_id is None:
        return {
            "type": "custom_line_item",
            "description": line.description,
            "quantity": line.quantity,
            "unit_amount": line.unit_amount,
        }
    return {
        "type": "invoice_line_item",
        "invoice_line_item": line.invoice_line_id,
        "quantity": line.quantity,
        "amount": line.amount,
        "description": line.description,
    }


def credit_note_params(note: BillingCreditNoteCreate) -> dict[str, Any]:
    """`POST /v1/credit_notes` params, and `GET /v1/credit_notes/preview` query params."""
    return {
        "invoice": note.invoice_id,
        "amount": note.amount,
        "lines": [_credit_note_line(line) for line in note.lines],
        "reason": None if note.reason is None else note.reason.value,
        "memo": note.memo,
        "metadata": _reference(note.reference),
        "refund_amount": note.refund_amount,
        "credit_amount": note.credit_amount,
    }


def list_credit_notes_params(
    *, invoice_id: str | None, limit: int, cursor: str | None
) -> dict[str, Any]:
    """`GET /v1/credit_notes` query params."""
    return {"invoice": invoice_id, "limit": limit, "starting_after": cursor}


# --- objects ---------------------------------------------------------------------------


def product_from_stripe(product: StripeProduct) -> BillingProduct:
    return BillingProduct(
        id=product.id,
        reference=product.metadata.get(REFERENCE_KEY),
        name=product.name,
        active=product.active,
        created_at=_time(product.created),
    )


def price_from_stripe(price: StripePrice) -> BillingPrice:
    return BillingPrice(
        id=price.id,
        reference=price.metadata.get(REFERENCE_KEY),
        product_id=price.product,
        currency=price.currency.upper(),
        unit_amount=price.unit_amount,
        interval=None if price.recurring is None else BillingInterval(price.recurring.interval),
        interval_count=None if price.recurring is None else price.recurring.interval_count,
        active=price.active,
    )


def price_page_from_stripe(page: StripeList[StripePrice]) -> BillingPricePage:
    return BillingPricePage(
        prices=tuple(price_from_stripe(price) for price in page.data),
        next_cursor=page.data[-1].id if page.has_more and page.data else None,
    )


def subscription_from_stripe(subscription: StripeSubscription) -> BillingSubscription:
    return BillingSubscription(
        id=subscription.id,
        reference=subscription.metadata.get(REFERENCE_KEY),
        customer_id=subscription.customer,
        status=BillingSubscriptionStatus(subscription.status),
        items=tuple(
            BillingSubscriptionItem(
                id=item.id,
                price_id=item.price.id,
                quantity=item.quantity if item.quantity is not None else 1,
                unit_amount=item.price.unit_amount,
                currency=item.price.currency.upper(),
            )
            for item in subscription.items.data
        ),
        current_period_start=_time(subscription.current_period_start),
        current_period_end=_time(subscription.current_period_end),
        cancel_at_period_end=subscription.cancel_at_period_end,
        canceled_at=None if subscription.canceled_at is None else _time(subscription.canceled_at),
        latest_invoice_id=subscription.latest_invoice,
    )


def proration_preview_from_stripe(
    subscription_id: str, upcoming: StripeUpcomingInvoice, *, pending: frozenset[str] = frozenset()
) -> ProrationPreview:
    """The prorations of an upcoming invoice: as Stripe advises, the proration lines
    whose period starts at the invoice's `subscription_proration_date`, but none of the
    invoice items `pending` before the change (an earlier change's prorations waiting
    for the invoice start at the same second when made within it)."""
    date = upcoming.subscription_proration_date
    lines = tuple(
        _proration_line(line)
        for line in upcoming.lines.data
        if line.proration
        and date is not None
        and line.period.start == date
        and line.invoice_item not in pending
    )
    return ProrationPreview(
        subscription_id=subscription_id,
        currency=upcoming.currency.upper(),
        proration_date=None if date is None else _time(date),
        period_start=_time(upcoming.period_start),
        period_end=_time(upcoming.period_end),
        lines=lines,
        total=sum(line.amount for line in lines),
        tax=sum(line.tax for line in lines),
        next_invoice_total=upcoming.total,
    )


def pending_invoice_items(upcoming: StripeUpcomingInvoice) -> frozenset[str]:
    """The invoice items an upcoming invoice bills: those waiting for it."""
    return frozenset(line.invoice_item for line in upcoming.lines.data if line.invoice_item)


def _proration_line(line: StripeInvoiceLine) -> ProrationLine:
    """A proration line before tax: a tax-inclusive rate's tax is part of Stripe's amount."""
    inclusive = sum(tax.amount for tax in line.tax_amounts if tax.inclusive)
    return ProrationLine(
        description=line.description,
        amount=line.amount - inclusive,
        tax=sum(tax.amount for tax in line.tax_amounts),
        quantity=line.quantity,
        price_id=None if line.price is None else line.price.id,
        subscription_item_id=line.subscription_item,
        period_start=_time(line.period.start),
        period_end=_time(line.period.end),
    )


def credit_note_from_stripe(note: StripeCreditNote) -> BillingCreditNote:
    return BillingCreditNote(
        id=note.id,
        reference=(note.metadata or {}).get(REFERENCE_KEY),
        number=note.number,
        invoice_id=note.invoice,
        customer_id=note.customer,
        currency=note.currency.upper(),
        type=BillingCreditNoteType(note.type),
        status=note.status,
        reason=None if note.reason is None else CreditNoteReason(note.reason),
        memo=note.memo,
        lines=tuple(
            BillingCreditNoteLine(
                id=line.id,
                invoice_line_id=line.invoice_line_item,
                description=line.description,
                quantity=line.quantity,
                amount=line.amount,
            )
            for line in note.lines.data
        ),
        total=note.total,
        created_at=_time(note.created),
        refund_id=note.refund,
    )


def credit_note_page_from_stripe(page: StripeList[StripeCreditNote]) -> BillingCreditNotePage:
    return BillingCreditNotePage(
        credit_notes=tuple(credit_note_from_stripe(note) for note in page.data),
        next_cursor=page.data[-1].id if page.has_more and page.data else None,
    )


EVENT_TYPES = {
    "invoice.finalized": BillingEventType.INVOICE_FINALIZED,
    "invoice.paid": BillingEventType.INVOICE_PAID,
    "invoice.payment_failed": BillingEventType.INVOICE_PAYMENT_FAILED,
    "customer.subscription.updated": BillingEventType.SUBSCRIPTION_UPDATED,
    "customer.subscription.deleted": BillingEventType.SUBSCRIPTION_CANCELED,
    "credit_note.created": BillingEventType.CREDIT_NOTE_CREATED,
    "charge.refunded": BillingEventType.CHARGE_REFUNDED,
    "charge.dispute.created": BillingEventType.DISPUTE_CREATED,
    "charge.dispute.closed": BillingEventType.DISPUTE_CLOSED,
}

# Stripe's dispute statuses: `won` and `lost` close it, every other leaves it open.
_DISPUTE_CLOSED = {"won": BillingDisputeStatus.WON, "lost": BillingDisputeStatus.LOST}


def charge_from_stripe(charge: StripeCharge) -> BillingCharge:
    return BillingCharge(
        id=charge.id,
        customer_id=charge.customer,
        invoice_id=charge.invoice,
        currency=charge.currency.upper(),
        amount=charge.amount,
        amount_refunded=charge.amount_refunded,
        refunds=tuple(
            BillingRefund(
                id=refund.id,
                amount=refund.amount,
                reason=refund.reason,
                created_at=_time(refund.created),
            )
            for refund in charge.refunds.data
            if refund.status != "failed"
        ),
    )


def dispute_from_stripe(dispute: StripeDispute) -> BillingDispute:
    """The fee is what the dispute's balance transactions charged (Stripe's 15.00 USD)."""
    return BillingDispute(
        id=dispute.id,
        charge_id=dispute.charge,
        currency=dispute.currency.upper(),
        amount=dispute.amount,
        status=_DISPUTE_CLOSED.get(dispute.status, BillingDisputeStatus.OPEN),
        reason=dispute.reason,
        fee=sum(transaction.fee for transaction in dispute.balance_transactions),
    )


INVOICE_EVENTS = (
    BillingEventType.INVOICE_FINALIZED,
    BillingEventType.INVOICE_PAID,
    BillingEventType.INVOICE_PAYMENT_FAILED,
)


def event_from_stripe(event: StripeEvent) -> BillingEvent:
    """A Stripe event as canonical; raises `ValidationError` if its object is malformed."""
    kind = EVENT_TYPES.get(event.type, BillingEventType.OTHER)
    payload = event.data.object
    invoice = subscription = credit_note = charge = dispute = None
    if kind in INVOICE_EVENTS:
        invoice = invoice_from_stripe(StripeInvoice.model_validate(payload))
    elif kind in (BillingEventType.SUBSCRIPTION_UPDATED, BillingEventType.SUBSCRIPTION_CANCELED):
        subscription = subscription_from_stripe(StripeSubscription.model_validate(payload))
    elif kind is BillingEventType.CREDIT_NOTE_CREATED:
        credit_note = credit_note_from_stripe(StripeCreditNote.model_validate(payload))
    elif kind is BillingEventType.CHARGE_REFUNDED:
        charge = charge_from_stripe(StripeCharge.model_validate(payload))
    elif kind in (BillingEventType.DISPUTE_CREATED, BillingEventType.DISPUTE_CLOSED):
        dispute = dispute_from_stripe(StripeDispute.model_validate(payload))
    return BillingEvent(
        id=event.id,
        type=kind,
        vendor_type=event.type,
        occurred_at=_time(event.created),
        invoice=invoice,
        subscription=subscription,
        credit_note=credit_note,
        charge=charge,
        dispute=dispute,
    )
