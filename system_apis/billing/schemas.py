"""Canonical billing objects, vendor-neutral. Amounts are integer minor units."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

from core.money import MAX_MINOR_UNITS, CurrencyCode, NonNegativeMinorUnits

PositiveMinorUnits = Annotated[StrictInt, Field(ge=1, le=MAX_MINOR_UNITS, examples=[1999])]


class BillingModel(BaseModel):
    model_config = ConfigDict(frozen=True)


class BillingCustomerCreate(BillingModel):
    reference: str = Field(description="Our customer id, stored as vendor metadata.")
    name: str
    email: str | None = None
    currency: str


class BillingCustomerUpdate(BillingModel):
    """What of a billing customer follows ours; its reference and currency never change."""

    name: str
    email: str | None = None


class BillingCustomer(BillingModel):
    id: str
    reference: str | None
    name: str | None
    email: str | None
    currency: str | None
    created_at: datetime


class BillingInvoiceStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    PAID = "paid"
    VOID = "void"
    UNCOLLECTIBLE = "uncollectible"


class BillingInvoiceLine(BillingModel):
    description: str | None
    quantity: int
    amount: int = Field(description="Minor units, before tax; negative for a credit.")
    tax: int
    price_id: str | None
    proration: bool = Field(description="A mid-cycle change's proration, not a period's charge.")
    period_start: datetime | None = Field(default=None, description="The period it bills from.")
    period_end: datetime | None = Field(
        default=None, description="The end of the period it bills: the next period's start."
    )


class BillingInvoice(BillingModel):
    id: str
    customer_id: str
    currency: str
    status: BillingInvoiceStatus
    subtotal: int
    tax: int
    total: int
    amount_paid: int
    balance_applied: int = Field(
        default=0,
        description="What the customer's credit balance paid of it (Stripe's "
        "`starting_balance` taken up): `total` less this is what was due in cash.",
    )
    reference: str | None
    subscription_id: str | None = Field(default=None, description="The subscription it bills.")
    due_date: date | None = None
    created_at: datetime | None = None
    paid_at: datetime | None = Field(default=None, description="When it was paid in full.")
    lines: tuple[BillingInvoiceLine, ...] | None = Field(
        default=None, description="Every line; none when the vendor sent only some of them."
    )
    charge_id: str | None = Field(
        default=None, description="The charge that paid it: what refunds and disputes name."
    )


class BillingPage(BillingModel):
    """One page of a list, and the cursor to ask for the next."""

    invoices: tuple[BillingInvoice, ...]
    next_cursor: str | None


class BillingProductCreate(BillingModel):
    reference: str = Field(description="Our product id, stored as vendor metadata.")
    name: str = Field(min_length=1)
    description: str | None = None


class BillingProduct(BillingModel):
    id: str
    reference: str | None
    name: str
    active: bool
    created_at: datetime


class BillingInterval(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"


class BillingPriceCreate(BillingModel):
    """A price of a product; with an `interval` it recurs, without it it is one-time."""

    reference: str | None = Field(default=None, description="Our price id, as vendor metadata.")
    product_id: str
    currency: CurrencyCode
    unit_amount: NonNegativeMinorUnits
    interval: BillingInterval | None = None
    interval_count: int = Field(default=1, ge=1, le=365)
    nickname: str | None = None
    metered: bool = Field(
        default=False,
        description="Charges, in arrears, the usage reported for each period (recurring only); "
        "the period's last reported total is billed.",
    )


class BillingPrice(BillingModel):
    id: str
    reference: str | None
    product_id: str
    currency: str
    unit_amount: int | None
    interval: BillingInterval | None
    interval_count: int | None
    active: bool


class BillingPricePage(BillingModel):
    prices: tuple[BillingPrice, ...]
    next_cursor: str | None


class ProrationBehavior(StrEnum):
    """What an item change does to the current period (Stripe's `proration_behavior`)."""

    CREATE_PRORATIONS = "create_prorations"
    NONE = "none"
    ALWAYS_INVOICE = "always_invoice"


class BillingSubscriptionItemCreate(BillingModel):
    price_id: str
    quantity: int = Field(default=1, ge=0)


class BillingSubscriptionCreate(BillingModel):
    reference: str = Field(description="Our subscription id, stored as vendor metadata.")
    customer_id: str
    items: tuple[BillingSubscriptionItemCreate, ...] = Field(min_length=1, max_length=20)
    proration_behavior: ProrationBehavior = ProrationBehavior.CREATE_PRORATIONS


class BillingSubscriptionStatus(StrEnum):
    ACTIVE = "active"
    CANCELED = "canceled"
    INCOMPLETE = "incomplete"
    INCOMPLETE_EXPIRED = "incomplete_expired"
    PAST_DUE = "past_due"
    TRIALING = "trialing"
    UNPAID = "unpaid"


class BillingSubscriptionItem(BillingModel):
    id: str
    price_id: str
    quantity: int
    unit_amount: int | None
    currency: str


class BillingSubscription(BillingModel):
    id: str
    reference: str | None
    customer_id: str
    status: BillingSubscriptionStatus
    items: tuple[BillingSubscriptionItem, ...]
    current_period_start: datetime
    current_period_end: datetime
    cancel_at_period_end: bool
    canceled_at: datetime | None
    latest_invoice_id: str | None


class BillingUsageReport(BillingModel):
    """A metered item's usage for the period holding `timestamp`: the total so far, set
    (not added), so sending it again never counts twice."""

    quantity: int = Field(ge=0, description="Whole units: the period's total so far.")
    timestamp: datetime = Field(description="Within the item's current billing period.")


class BillingUsageRecord(BillingModel):
    id: str
    subscription_item_id: str
    quantity: int
    timestamp: datetime


class BillingSubscriptionItemChange(BillingModel):
    """One item of a change: `item_id` alone with `deleted`, or a new price/quantity.

    Without `item_id` the item is added to the subscription.
    """

    item_id: str | None = None
    price_id: str | None = None
    quantity: int | None = Field(default=None, ge=0)
    deleted: bool = False

    @model_validator(mode="after")
    def _says_something(self) -> BillingSubscriptionItemChange:
        if self.item_id is None and (self.price_id is None or self.deleted):
            raise ValueError("a new item needs a price_id and cannot be deleted")
        if self.deleted and (self.price_id is not None or self.quantity is not None):
            raise ValueError("a deleted item takes no price_id or quantity")
        return self


class BillingSubscriptionChange(BillingModel):
    """A mid-cycle change; preview it, then apply it with the preview's `proration_date`."""

    items: tuple[BillingSubscriptionItemChange, ...] = Field(min_length=1, max_length=20)
    proration_behavior: ProrationBehavior = ProrationBehavior.CREATE_PRORATIONS
    proration_date: datetime | None = Field(
        default=None, description="Prorate as of this instant (default: now); whole seconds."
    )


class ProrationLine(BillingModel):
    """A credit (negative) for unused time or a charge for remaining time."""

    description: str | None
    amount: int = Field(description="Before tax, in minor units.")
    tax: int = Field(default=0, description="The tax billing charges on it, in minor units.")
    quantity: int | None
    price_id: str | None
    subscription_item_id: str | None
    period_start: datetime
    period_end: datetime


class ProrationPreview(BillingModel):
    """The prorations a change would create and the invoice that would follow."""

    subscription_id: str
    currency: str
    proration_date: datetime | None = Field(description="None when nothing is prorated.")
    period_start: datetime
    period_end: datetime
    lines: tuple[ProrationLine, ...]
    total: int = Field(description="The sum of the proration lines, in minor units.")
    tax: int = Field(
        default=0, description="The tax billing charges on the proration lines, in minor units."
    )
    next_invoice_total: int = Field(description="The whole upcoming invoice, prorations included.")


class CreditNoteReason(StrEnum):
    DUPLICATE = "duplicate"
    FRAUDULENT = "fraudulent"
    ORDER_CHANGE = "order_change"
    PRODUCT_UNSATISFACTORY = "product_unsatisfactory"


class BillingCreditNoteLineCreate(BillingModel):
    """Credit an invoice line (all that is left of it, a quantity or an amount) or a custom line."""

    invoice_line_id: str | None = None
    quantity: int | None = Field(default=None, ge=1)
    amount: PositiveMinorUnits | None = None
    description: str | None = None
    unit_amount: NonNegativeMinorUnits | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> BillingCreditNoteLineCreate:
        if self.invoice_line_id is None:
            if self.unit_amount is None or self.description is None or self.amount is not None:
                raise ValueError("a custom line needs description and unit_amount, not amount")
        elif self.unit_amount is not None or (
            self.amount is not None and self.quantity is not None
        ):
            raise ValueError("an invoice line takes quantity or amount, not unit_amount")
        return self


class BillingCreditNoteCreate(BillingModel):
    """A credit against a finalized invoice: an `amount`, or `lines` (or both, equal)."""

    reference: str | None = Field(default=None, description="Our credit memo id, as metadata.")
    invoice_id: str
    amount: PositiveMinorUnits | None = None
    lines: tuple[BillingCreditNoteLineCreate, ...] = ()
    reason: CreditNoteReason | None = None
    memo: str | None = None
    refund_amount: PositiveMinorUnits | None = Field(
        default=None, description="On a paid invoice: paid back on the invoice's charge."
    )
    credit_amount: PositiveMinorUnits | None = Field(
        default=None, description="On a paid invoice: credited to the customer's balance."
    )

    @model_validator(mode="after")
    def _amount_or_lines(self) -> BillingCreditNoteCreate:
        if self.amount is None and not self.lines:
            raise ValueError("give an amount or lines")
        return self


class BillingCreditNoteType(StrEnum):
    PRE_PAYMENT = "pre_payment"
    POST_PAYMENT = "post_payment"


class BillingCreditNoteLine(BillingModel):
    id: str
    invoice_line_id: str | None
    description: str | None
    quantity: int | None
    amount: int


class BillingCreditNote(BillingModel):
    id: str
    reference: str | None
    number: str
    invoice_id: str
    customer_id: str
    currency: str
    type: BillingCreditNoteType
    status: str
    reason: CreditNoteReason | None
    memo: str | None
    lines: tuple[BillingCreditNoteLine, ...]
    total: int
    created_at: datetime
    refund_id: str | None = Field(
        default=None, description="The refund a paid invoice's credit note paid back."
    )


class BillingCreditNotePage(BillingModel):
    credit_notes: tuple[BillingCreditNote, ...]
    next_cursor: str | None


class BillingEventType(StrEnum):
    """What happened in billing; `other` for vendor events we do not act on."""

    INVOICE_FINALIZED = "invoice.finalized"
    INVOICE_PAID = "invoice.paid"
    INVOICE_PAYMENT_FAILED = "invoice.payment_failed"
    SUBSCRIPTION_UPDATED = "subscription.updated"
    SUBSCRIPTION_CANCELED = "subscription.canceled"
    CREDIT_NOTE_CREATED = "credit_note.created"
    CHARGE_REFUNDED = "charge.refunded"
    DISPUTE_CREATED = "charge.dispute.created"
    DISPUTE_CLOSED = "charge.dispute.closed"
    OTHER = "other"


class BillingRefund(BillingModel):
    """Money billing paid back on a charge, all or part of it."""

    id: str
    amount: int = Field(description="Minor units paid back.")
    reason: str | None
    created_at: datetime


class BillingCharge(BillingModel):
    """A charge and the refunds made of it so far."""

    id: str
    customer_id: str | None
    invoice_id: str | None = Field(description="The billing invoice the charge paid.")
    currency: str
    amount: int
    amount_refunded: int
    refunds: tuple[BillingRefund, ...]


class BillingDisputeStatus(StrEnum):
    OPEN = "open"  # evidence due or under review
    WON = "won"
    LOST = "lost"


class BillingDispute(BillingModel):
    """A cardholder's dispute (chargeback) of a charge."""

    id: str
    charge_id: str
    currency: str
    amount: int = Field(description="Minor units disputed.")
    status: BillingDisputeStatus
    reason: str | None
    fee: int = Field(description="Minor units billing charged for the dispute.")


class BillingEvent(BillingModel):
    """A verified billing event; the object it is about is set for the types we know."""

    id: str
    type: BillingEventType
    vendor_type: str
    occurred_at: datetime
    invoice: BillingInvoice | None = None
    subscription: BillingSubscription | None = None
    credit_note: BillingCreditNote | None = None
    charge: BillingCharge | None = None
    dispute: BillingDispute | None = None
