"""Request and response bodies of `/v1/credit-memos` and `/v1/invoices/{id}/corrections`."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Self

from pydantic import Field, StrictInt, model_validator

from core.canonical.base import InputModel, OutputModel
from core.canonical.documents import MAX_INVOICE_LINES, CreditMemo, CreditSettlement
from core.ids import id_pattern
from core.money import MAX_MINOR_UNITS, CurrencyCode
from process_apis.runs.schemas import RunSummary
from system_apis.support.schemas import SupportTier

PositiveMinorUnits = Annotated[StrictInt, Field(ge=1, le=MAX_MINOR_UNITS, examples=[2500])]


class CreditReason(StrEnum):
    """Why a support case credits the customer; `plan_downgrade` also lowers an entitlement."""

    OUTAGE = "outage"
    SLA_BREACH = "sla_breach"
    BILLING_ERROR = "billing_error"
    GOODWILL = "goodwill"
    PLAN_DOWNGRADE = "plan_downgrade"


class EntitlementChange(InputModel):
    """The support entitlement the credit moves to a lower tier."""

    product_id: Annotated[str, Field(pattern=id_pattern("product"))]
    tier: SupportTier


class CreditMemoCreate(InputModel):
    invoice_id: Annotated[str, Field(pattern=id_pattern("invoice"))] = Field(
        description="The posted invoice to credit."
    )
    amount: PositiveMinorUnits = Field(
        description="The credit before tax, in minor units; the ERP adds the tax of the "
        "invoice's main tax code, as it did on the invoice."
    )
    currency: CurrencyCode
    reason_code: CreditReason
    case_id: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.:-]+$")] = (
        Field(description="The support desk's case the credit comes from.", examples=["TCK-1001"])
    )
    note: Annotated[str, Field(min_length=1, max_length=400)] | None = None
    entitlement_change: EntitlementChange | None = Field(
        default=None, description="Required with `plan_downgrade`, refused with other reasons."
    )
    settlement: CreditSettlement | None = Field(
        default=None,
        description="Required on a paid invoice, refused on one still owed: `refund` pays "
        "the credit back on the invoice's payment, `customer_balance` leaves it to the "
        "customer's balance.",
    )

    @model_validator(mode="after")
    def _entitlement_change_with_downgrade(self) -> Self:
        downgrade = self.reason_code == CreditReason.PLAN_DOWNGRADE
        if downgrade and self.entitlement_change is None:
            raise ValueError("a plan_downgrade credit names the entitlement_change")
        if not downgrade and self.entitlement_change is not None:
            raise ValueError("only a plan_downgrade credit changes an entitlement")
        return self


class CreditMemoApproval(InputModel):
    note: Annotated[str, Field(min_length=1, max_length=400)] | None = None


class CorrectionLine(InputModel):
    """One invoice line to credit: by `quantity` (units of its unit amount) or `amount`."""

    invoice_line_id: Annotated[str, Field(pattern=id_pattern("invoice_line"))]
    quantity: Annotated[StrictInt, Field(ge=1, le=1_000_000)] | None = Field(
        default=None, description="Units to credit, at the line's unit amount."
    )
    amount: PositiveMinorUnits | None = Field(
        default=None, description="Net amount to credit, in minor units of the invoice."
    )

    @model_validator(mode="after")
    def _quantity_or_amount(self) -> Self:
        if (self.quantity is None) == (self.amount is None):
            raise ValueError("a line credits either a quantity or an amount")
        return self


class CorrectionCreate(InputModel):
    reason: Annotated[str, Field(min_length=1, max_length=400, pattern=r"\S")] = Field(
        description="Why the invoice is corrected, kept on the credit memo.",
        examples=["Billed 3 seats instead of 2"],
    )
    lines: (
        Annotated[list[CorrectionLine], Field(min_length=1, max_length=MAX_INVOICE_LINES)] | None
    ) = Field(
        default=None,
        description="The lines to credit; without them, all that remains of every line is.",
        examples=[[{"invoice_line_id": "inl_01jd0000000000000000000000", "quantity": 1}]],
    )

    @model_validator(mode="after")
    def _each_line_once(self) -> Self:
        ids = [line.invoice_line_id for line in self.lines or ()]
        if len(ids) != len(set(ids)):
            raise ValueError("each invoice line is named once")
        return self


class CreditMemoLine(OutputModel):
    """What a correction credits of one line of the corrected invoice."""

    sequence: int
    invoice_line_id: str = Field(description="The corrected invoice's line.")
    quantity: int | None = Field(description="Units credited, when credited by quantity.")
    amount: int = Field(description="Net amount credited, in minor units.")
    tax_amount: int = Field(description="The line's tax credited in proportion.")


class CreditMemoResource(CreditMemo):
    case_id: str | None
    note: str | None
    approval_required: bool | None
    requested_by: str | None
    approved_by: str | None
    approved_at: datetime | None
    support_ref: str | None = Field(description="The support desk's service credit.")
    posting_date: date | None = Field(
        default=None, description="The ERP posting date, set when the credit is issued."
    )
    erp_document_number: str | None = Field(description="The posted ERP credit memo's number.")
    erp_total_including_tax: int | None = Field(
        description="What the ERP credited, tax included: the billing credit note's amount."
    )
    entitlement_product_id: str | None
    entitlement_tier: str | None
    settlement: str | None = Field(
        default=None, description="A credit on a paid invoice: `refund` or `customer_balance`."
    )
    tax_amount: int | None = Field(
        default=None, description="A correction's tax credited: its lines' shares add up to it."
    )
    lines: list[CreditMemoLine] = Field(
        default_factory=list, description="A correction's lines, each naming the invoice line."
    )
    last_run: RunSummary | None = Field(
        default=None, description="The latest issuing run: none while awaiting approval."
    )
    run_url: str | None = None
