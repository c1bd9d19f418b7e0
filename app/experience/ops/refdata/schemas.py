"""What finance operations send and read when they keep reference data."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictBool, StrictInt, model_validator

from core.canonical.base import Code, InputModel, OutputModel, ShortText
from core.canonical.base import Day as IsoDay
from core.canonical.catalog import BillingInterval
from core.canonical.parties import (
    AccountingPeriod,
    ClosedPeriodPolicy,
    LegalEntity,
    PartnerStatus,
    PeriodStatus,
)
from core.money import CurrencyCode
from system_apis.crm.schemas import PlanCode, ProductTier

Country = Annotated[
    str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2.", examples=["US"])
]
ConnectionName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=40,
        pattern=r"^[a-z0-9][a-z0-9_-]*$",
        description="An ERP connection configured in `LEDGERGATE_ERP_CONNECTIONS`.",
        examples=["default"],
    ),
]


Day = Annotated[IsoDay, Field(examples=["2027-01-01"])]
BackendRef = Annotated[str, Field(min_length=1, max_length=255)]
Reason = Annotated[
    str, Field(min_length=1, max_length=500, description="Why, for the audit trail.")
]


class TaxCodeMapping(OutputModel):
    tax_code: str = Field(description="The canonical tax code of products and invoice lines.")
    erp_tax_code: str = Field(description="The ERP tax group it is booked with.")


class PeriodResource(AccountingPeriod):
    status_reason: str | None = Field(description="Why it was last closed or reopened.")


GraceDays = Annotated[
    int,
    Field(
        ge=0,
        le=365,
        description="Days a customer in dunning keeps its account before it is suspended; "
        "none: `LEDGERGATE_DUNNING_GRACE_DAYS`.",
    ),
]


class LegalEntityResource(LegalEntity):
    erp_connection: str = Field(description="The ERP connection the entity posts through.")
    dunning_grace_days: GraceDays | None = None
    periods: list[PeriodResource] = []  # type: ignore[assignment]
    tax_codes: list[TaxCodeMapping] = []


class LegalEntityCreate(InputModel):
    code: Code = Field(examples=["LG-UK"])
    name: ShortText = Field(examples=["Ledgergate UK Ltd"])
    country: Country
    functional_currency: CurrencyCode
    closed_period_policy: ClosedPeriodPolicy
    erp_connection: ConnectionName = "default"
    erp_company_id: BackendRef = Field(
        description="The company (Business Central) or subsidiary (NetSuite) id in the ERP."
    )
    dunning_grace_days: GraceDays | None = None


class LegalEntityUpdate(InputModel):
    """Currency and country are fixed once documents may exist; a new entity replaces them."""

    name: ShortText | None = None
    closed_period_policy: ClosedPeriodPolicy | None = None
    erp_connection: ConnectionName | None = None
    erp_company_id: BackendRef | None = None
    dunning_grace_days: GraceDays | None = None


class PeriodCreate(InputModel):
    starts_on: Day
    ends_on: Day
    status: PeriodStatus = PeriodStatus.OPEN

    @model_validator(mode="after")
    def _ordered(self) -> PeriodCreate:
        if self.ends_on < self.starts_on:
            raise ValueError("ends_on is before starts_on")
        return self


class PeriodClose(InputModel):
    reason: Reason | None = None


class PeriodReopen(InputModel):
    reason: Reason


class TaxCodeMappingPut(InputModel):
    erp_tax_code: Code = Field(examples=["STANDARD"])


class PartnerCreate(InputModel):
    name: ShortText = Field(examples=["Contoso Channel"])
    commission_plan: PlanCode = Field(description="The CRM commission plan's code.")
    status: PartnerStatus = PartnerStatus.ACTIVE
    crm_ref: BackendRef | None = Field(default=None, description="The partner's id in the CRM.")


class PartnerUpdate(InputModel):
    name: ShortText | None = None
    commission_plan: PlanCode | None = None
    status: PartnerStatus | None = None
    crm_ref: BackendRef | None = None


class ProductCreate(InputModel):
    name: ShortText = Field(examples=["Ledgergate Team"])
    tier: ProductTier = Field(description="Commission rates are per tier.")
    tax_code: Code = Field(examples=["STANDARD"])
    erp_item: BackendRef | None = Field(default=None, description="The ERP item number.")
    billing_product: BackendRef | None = Field(
        default=None, description="The billing product id; created on first order when absent."
    )


class ProductUpdate(InputModel):
    name: ShortText | None = None
    tier: ProductTier | None = None
    tax_code: Code | None = None
    active: StrictBool | None = None
    erp_item: BackendRef | None = None
    billing_product: BackendRef | None = None


class PriceCreate(InputModel):
    """A price's amount never changes: a new price replaces it, the old one is deactivated."""

    currency: CurrencyCode
    unit_amount: StrictInt = Field(ge=0, le=10**12, description="Minor units.", examples=[2900])
    interval: BillingInterval
    billing_price: BackendRef | None = Field(
        default=None, description="The billing price id; created on first order when absent."
    )


class PriceUpdate(InputModel):
    active: StrictBool | None = None
    billing_price: BackendRef | None = None
