"""Stripe's wire objects (API version 2020-08-27), as much of them as the mapping reads.

Permissive on purpose (`extra="ignore"`): Stripe adds fields without a version
change. Expandable references are read as ids: the adapter never asks to expand.
"""

from __future__ import annotations

from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, RootModel

M = TypeVar("M", bound=BaseModel)


class StripeModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class StripeList(StripeModel, Generic[M]):
    object: Literal["list"]
    data: list[M]
    has_more: bool
    url: str


class StripeCustomer(StripeModel):
    id: str
    object: Literal["customer"]
    created: int
    livemode: bool
    deleted: Literal[False] = False
    name: str | None = None
    email: str | None = None
    currency: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)


class StripeDeletedCustomer(StripeModel):
    """What Stripe answers for a customer that has been deleted (still `200`)."""

    id: str
    object: Literal["customer"]
    deleted: Literal[True]


class StripeCustomerResult(RootModel[StripeCustomer | StripeDeletedCustomer]):
    """`GET /v1/customers/{customer}` answers a customer or a deleted customer."""


class StripeProduct(StripeModel):
    id: str
    object: Literal["product"]
    active: bool
    created: int
    name: str
    metadata: dict[str, str] = Field(default_factory=dict)


class StripeRecurring(StripeModel):
    interval: Literal["day", "week", "month", "year"]
    interval_count: int
    usage_type: Literal["licensed", "metered"] = "licensed"


class StripeUsageRecord(StripeModel):
    id: str
    object: Literal["usage_record"]
    quantity: int
    subscription_item: str
    timestamp: int


class StripePrice(StripeModel):
    id: str
    object: Literal["price"]
    active: bool
    currency: str
    product: str
    type: Literal["one_time", "recurring"]
    unit_amount: int | None = None
    recurring: StripeRecurring | None = None
    metadata: dict[str, str] = Field(default_factory=dict)


class StripePeriod(StripeModel):
    start: int
    end: int


class StripeTaxAmount(StripeModel):
    amount: int
    inclusive: bool = False


class StripeInvoiceLine(StripeModel):
    id: str
    object: Literal["line_item"]
    amount: int
    currency: str
    description: str | None = None
    invoice_item: str | None = None
    tax_amounts: list[StripeTaxAmount] = Field(default_factory=list)
    period: StripePeriod
    proration: bool
    quantity: int | None = None
    price: StripePrice | None = None
    subscription_item: str | None = None
    type: Literal["invoiceitem", "subscription"]


class StripeInvoiceTransitions(StripeModel):
    finalized_at: int | None = None
    paid_at: int | None = None


class StripeInvoice(StripeModel):
    id: str
    object: Literal["invoice"]
    customer: str
    currency: str
    status: Literal["draft", "open", "paid", "uncollectible", "void"]
    subtotal: int
    tax: int | None = None
    total: int
    amount_paid: int
    starting_balance: int = 0
    metadata: dict[str, str] | None = None
    subscription: str | None = None
    due_date: int | None = None
    created: int | None = None
    status_transitions: StripeInvoiceTransitions | None = None
    lines: StripeList[StripeInvoiceLine] | None = None
    charge: str | None = None


class StripeUpcomingInvoice(StripeModel):
    """`GET /v1/invoices/upcoming`: a preview, so no id; prorations dated by the field below."""

    object: Literal["invoice"]
    currency: str
    subscription: str | None = None
    period_start: int
    period_end: int
    total: int
    subscription_proration_date: int | None = None
    lines: StripeList[StripeInvoiceLine]


class StripeSubscriptionItem(StripeModel):
    id: str
    object: Literal["subscription_item"]
    price: StripePrice
    quantity: int | None = None


class StripeSubscription(StripeModel):
    id: str
    object: Literal["subscription"]
    customer: str
    status: Literal[
        "active", "canceled", "incomplete", "incomplete_expired", "past_due", "trialing", "unpaid"
    ]
    items: StripeList[StripeSubscriptionItem]
    current_period_start: int
    current_period_end: int
    cancel_at_period_end: bool
    canceled_at: int | None = None
    latest_invoice: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)


class StripeCreditNoteLine(StripeModel):
    id: str
    object: Literal["credit_note_line_item"]
    amount: int
    description: str | None = None
    invoice_line_item: str | None = None
    quantity: int | None = None


class StripeCreditNote(StripeModel):
    id: str
    object: Literal["credit_note"]
    number: str
    invoice: str
    customer: str
    currency: str
    type: Literal["pre_payment", "post_payment"]
    status: Literal["issued", "void"]
    reason: Literal["duplicate", "fraudulent", "order_change", "product_unsatisfactory"] | None
    memo: str | None = None
    total: int
    created: int
    lines: StripeList[StripeCreditNoteLine]
    metadata: dict[str, str] | None = None
    refund: str | None = None


class StripeRefund(StripeModel):
    id: str
    object: Literal["refund"]
    amount: int
    charge: str
    currency: str
    created: int
    reason: str | None = None
    status: str


class StripeCharge(StripeModel):
    id: str
    object: Literal["charge"]
    amount: int
    amount_refunded: int
    currency: str
    customer: str | None = None
    invoice: str | None = None
    refunds: StripeList[StripeRefund]


class StripeBalanceTransaction(StripeModel):
    fee: int


class StripeDispute(StripeModel):
    id: str
    object: Literal["dispute"]
    amount: int
    charge: str
    currency: str
    created: int
    reason: str | None = None
    status: str
    balance_transactions: list[StripeBalanceTransaction] = []


class StripeEventData(StripeModel):
    object: dict[str, object]


class StripeEvent(StripeModel):
    id: str
    object: Literal["event"]
    type: str
    created: int
    data: StripeEventData


class StripeErrorDetail(StripeModel):
    type: str
    code: str | None = None
    message: str | None = None
    param: str | None = None


class StripeError(StripeModel):
    error: StripeErrorDetail
