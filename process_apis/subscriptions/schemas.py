"""Request and response bodies of `/v1/subscriptions`."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator

from core.canonical.base import InputModel, OutputModel
from core.canonical.subscriptions import Entitlement, Subscription
from core.ids import id_pattern
from process_apis.runs.schemas import RunRef, RunSummary

Quantity = Annotated[int, Field(ge=1, le=10_000, description="Seats or units.")]


class ProrationBehavior(StrEnum):
    """What a mid-cycle change does to the current period's charges."""

    CREATE_PRORATIONS = "create_prorations"
    ALWAYS_INVOICE = "always_invoice"
    NONE = "none"


class SubscriptionCreate(InputModel):
    customer_id: str = Field(pattern=id_pattern("customer"))
    price_id: str = Field(
        pattern=id_pattern("price"), description="An active price in the customer's currency."
    )
    quantity: Quantity = 1
    partner_id: str | None = Field(
        default=None,
        pattern=id_pattern("partner"),
        description="The partner to credit; defaults to the customer's attributed partner. "
        "The CRM must find an approved, unexpired deal registration for it.",
    )


class AmendmentCreate(InputModel):
    """A new price, a new quantity, or both; what is left out stays as it is."""

    price_id: str | None = Field(
        default=None, pattern=id_pattern("price"), description="Same currency and interval."
    )
    quantity: Quantity | None = None
    proration_behavior: ProrationBehavior = Field(
        default=ProrationBehavior.CREATE_PRORATIONS,
        description="`create_prorations`: credit and charge the rest of the period on the next "
        "invoice; `always_invoice`: invoice them now; `none`: no proration.",
    )

    @model_validator(mode="after")
    def _changes_something(self) -> AmendmentCreate:
        if self.price_id is None and self.quantity is None:
            raise ValueError("give a price_id, a quantity or both")
        return self


class CancellationCreate(InputModel):
    note: str | None = Field(default=None, max_length=500, description="Why, for the record.")


class SubscriptionResource(Subscription):
    product_id: str
    tier: str = Field(description="The product's tier, which sets the entitlements.")
    last_run: RunSummary | None = Field(
        default=None, description="The most recent run that worked on the subscription."
    )


class ProrationLineView(OutputModel):
    """A credit (negative) for unused time on the old terms, or a charge for the new."""

    description: str | None
    amount: int = Field(description="Minor units.")
    quantity: int | None
    period_start: datetime
    period_end: datetime


class ErpAdjustmentKind(StrEnum):
    SALES_INVOICE = "sales_invoice"
    CREDIT_MEMO = "credit_memo"
    NONE = "none"


class AmendmentPreview(OutputModel):
    """What an amendment would prorate, and the ERP document it would post for it."""

    subscription_id: str
    price_id: str
    quantity: int
    currency: str
    proration_behavior: ProrationBehavior
    proration_date: datetime | None = Field(description="None when nothing is prorated.")
    period_start: datetime
    period_end: datetime
    lines: list[ProrationLineView]
    total: int = Field(description="Net proration in minor units: positive is a charge.")
    next_invoice_total: int = Field(description="The upcoming billing invoice, in minor units.")
    erp_adjustment: ErpAdjustmentKind = Field(
        description="A sales invoice for a net charge, a credit memo for a net credit."
    )


class ErpAdjustment(OutputModel):
    """The posted ERP document that accounts for an amendment's proration."""

    kind: ErpAdjustmentKind
    document_id: str
    document_number: str | None
    external_document_number: str = Field(description="The amendment id.")
    posting_date: date
    currency: str
    amount: int = Field(description="Net of tax, minor units, always positive.")
    total_including_tax: int


class SubscriptionResult(OutputModel):
    """A subscription after a workflow, its run and its entitlements."""

    subscription: SubscriptionResource
    run: RunRef
    entitlements: list[Entitlement] = Field(description="Active entitlements it grants.")


class AmendmentResult(SubscriptionResult):
    amendment_id: str = Field(description="Keys the billing change and the ERP adjustment.")
    proration: AmendmentPreview | None = Field(
        description="What billing prorated (none while queued before the preview)."
    )
    erp_adjustment: ErpAdjustment | None


class CancellationResult(SubscriptionResult):
    already_canceled: bool = False
