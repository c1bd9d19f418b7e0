"""The reconciliation report: control totals, and each difference with its probable cause."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field

from core.errors import BadRequest

# A month of the years 1000 to 9999: year 0 is no accounting year.
PERIOD_PATTERN = r"^[1-9][0-9]{3}-(0[1-9]|1[0-2])$"
Period = Annotated[str, Field(pattern=PERIOD_PATTERN, examples=["2026-11"])]


class InvalidPeriod(BadRequest):
    slug = "invalid-period"
    title = "The period is not a month in YYYY-MM form"


class Side(StrEnum):
    BILLING = "billing"
    GATEWAY = "gateway"
    ERP = "erp"


class DocumentType(StrEnum):
    INVOICE = "invoice"
    CREDIT_MEMO = "credit_memo"
    PAYMENT = "payment"
    SETTLEMENT = "settlement"
    # The gateway's own ERP documents: an amendment's proration, a credit's reversal.
    ADJUSTMENT = "adjustment"


class DifferenceKind(StrEnum):
    MISSING_IN_ERP = "missing_in_erp"
    MISSING_IN_GATEWAY = "missing_in_gateway"
    MISSING_IN_BILLING = "missing_in_billing"
    AMOUNT_MISMATCH = "amount_mismatch"
    DUPLICATE_IN_ERP = "duplicate_in_erp"


class Cause(StrEnum):
    """Why a document probably disagrees; each has a sentence in `CAUSES`."""

    NOT_REGISTERED = "posted_in_erp_not_registered"
    NEVER_REGISTERED = "in_billing_never_registered"
    NOT_POSTED = "registered_not_posted"
    NOT_IN_BILLING = "registered_not_in_billing"
    POSTED_TWICE = "posted_twice_in_erp"
    CURRENCY = "currency_differs"
    TAX = "amount_differs_tax"
    NET = "amount_differs_net"
    NET_AND_TAX = "amount_differs_net_and_tax"
    AMOUNT = "amount_differs"


CAUSES = {
    Cause.NOT_REGISTERED: "posted in ERP, not registered in the gateway",
    Cause.NEVER_REGISTERED: "in billing, never registered in the gateway",
    Cause.NOT_POSTED: "registered in the gateway, not posted in the ERP",
    Cause.NOT_IN_BILLING: "registered from billing, not found in billing",
    Cause.POSTED_TWICE: "posted more than once in the ERP",
    Cause.CURRENCY: "currency differs",
    Cause.TAX: "amount differs: tax",
    Cause.NET: "amount differs: net",
    Cause.NET_AND_TAX: "amount differs: net and tax",
    Cause.AMOUNT: "amount differs",
}


class Difference(BaseModel):
    kind: str = Field(
        examples=["missing_in_erp"],
        description="`missing_in_erp`, `missing_in_gateway`, `missing_in_billing`, "
        "`amount_mismatch` or `duplicate_in_erp`; `cause` says why, probably.",
    )
    document_type: str = Field(
        examples=["invoice"],
        description="`invoice`, `credit_memo`, `payment`, `settlement` or `adjustment`.",
    )
    cause: Cause = Field(description="The probable cause, stable for automation.")
    explanation: str = Field(examples=["amount differs: tax"])
    key: str = Field(description="What the sides know the document by: our id as a rule.")
    gateway_id: str | None
    billing_id: str | None = None
    erp_number: str | None
    currency: str
    gateway_amount: int | None = Field(
        description="Minor units: the total including tax of an invoice, a credit memo or an "
        "adjustment, a payment's amount, a settlement's commission total."
    )
    billing_amount: int | None = None
    erp_amount: int | None


class CurrencyTotals(BaseModel):
    document_type: str = Field(
        examples=["invoice"],
        description="`invoice`, `credit_memo`, `payment`, `settlement` or `adjustment`: each "
        "is totalled on its own.",
    )
    currency: str
    gateway_count: int
    gateway_total: int
    erp_count: int
    erp_total: int
    billing_count: int = 0
    billing_total: int = 0


class Reconciliation(BaseModel):
    id: str | None = Field(default=None, description="The run that produced this report.")
    legal_entity_id: str
    period: str | None = None
    period_start: date
    period_end: date
    started_at: datetime | None = None
    finished_at: datetime | None = None
    trigger: str | None = Field(default=None, examples=["api"], description="api, cli or schedule.")
    totals: list[CurrencyTotals] = Field(
        description="One line per document type and currency that any side holds."
    )
    difference_count: int = 0
    differences: list[Difference] = Field(
        description="The differences, in document key order (the first `limit` of them)."
    )
    clean: bool = Field(description="True when all sides agree document by document.")


class ReconciliationRun(BaseModel):
    """A past run, without its differences."""

    id: str
    legal_entity_id: str
    period: str
    trigger: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    clean: bool | None
    difference_count: int
