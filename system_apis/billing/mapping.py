"""Canonical billing objects ⇄ Stripe's wire format, as pure functions.

Stripe takes `application/x-www-form-urlencoded` bodies and query strings with
nested values in bracket notation (`metadata[ledgergate_id]=cus_...`,
`expand[]=customer`, `lines[0][amount]=100`); `encode_form` produces them.
Stripe has no customer currency parameter (a customer's `currency` is set by its
first invoice), so the canonical currency travels in `metadata[currency]` next to
our reference in `metadata[ledgergate_id]`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from system_apis.billing.schemas import (
    BillingCustomer,
    BillingCustomerCreate,
    BillingInvoice,
    BillingInvoiceStatus,
    BillingPage,
)

if TYPE_CHECKING:
    # Only for annotations: the adapter module imports this one at runtime.
    from system_apis.billing.adapters.stripe import StripeCustomer, StripeInvoice, StripeList

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
    """A Stripe invoice as canonical. No tax rates means Stripe reports `tax: null`."""
    return BillingInvoice(
        id=invoice.id,
        customer_id=invoice.customer,
        currency=invoice.currency.upper(),
        status=BillingInvoiceStatus(invoice.status),
        subtotal=invoice.subtotal,
        tax=invoice.tax or 0,
        total=invoice.total,
        amount_paid=invoice.amount_paid,
        reference=(invoice.metadata or {}).get(REFERENCE_KEY),
    )


def invoice_page_from_stripe(page: StripeList[StripeInvoice]) -> BillingPage:
    """A Stripe list as a canonical page; `has_more` makes the last id the next cursor."""
    return BillingPage(
        invoices=tuple(invoice_from_stripe(invoice) for invoice in page.data),
        next_cursor=page.data[-1].id if page.has_more and page.data else None,
    )
