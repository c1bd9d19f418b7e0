"""What finance operations send and read when they keep reference data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from pydantic import BeforeValidator, Field, StrictBool, StrictInt, model_validator

from core.canonical.base import Code, InputModel, OutputModel, ShortText
from core.canonical.base import Day as IsoDay
from core.canonical.catalog import BillingInterval, CapPolicy, MeterAggregation
from core.canonical.parties import (
    AccountingPeriod,
    ClosedPeriodPolicy,
    LegalEntity,
    PartnerStatus,
    PeriodStatus,
)
from core.money import CurrencyCode
from core.quantity import Quantity, to_micros
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


def _sent_within(limit: int) -> Callable[[object], object]:
    """Refuse a value longer than `limit` as sent: stripping its whitespace must not let
    through what the contract's `maxLength` refuses."""

    def check(value: object) -> object:
        if isinstance(value, str) and len(value) > limit:
            raise ValueError(f"at most {limit} characters")
        return value

    return check


BackendRef = Annotated[str, BeforeValidator(_sent_within(255)), Field(min_length=1, max_length=255)]
Reason = Annotated[
    str, Field(min_length=1, max_length=500, description="Why, for the audit trail.")
]


class TaxCodeMapping(OutputModel):
    tax_code: str = Field(description="The canonical tax code of products and invoice lines.")
    erp_tax_code: str = Field(description="The ERP tax group it is booked with.")


class PeriodResource(AccountingPeriod):
    status_reason: str | None = Field(description="Why it was last closed or reopened.")


GraceDays = Annotated[
    StrictInt,
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


MeterName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_.-]{0,59}$", examples=["api_calls"])]


class MeteringCreate(InputModel):
    """A metered price: `unit_amount` is per unit of `meter`; usage events are checked
    against these rules."""

    meter: MeterName
    aggregation: MeterAggregation = MeterAggregation.SUM
    unique_property: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")] | None = Field(
        default=None, description="Required for `unique_count`: the property counted."
    )
    min_quantity: Quantity | None = None
    max_quantity: Quantity | None = None
    integer_only: StrictBool = False
    cap: Quantity | None = Field(default=None, description="Usage allowed per billing period.")
    cap_policy: CapPolicy = CapPolicy.FLAG

    @model_validator(mode="after")
    def _consistent(self) -> MeteringCreate:
        unique = self.aggregation == MeterAggregation.UNIQUE_COUNT
        if unique != (self.unique_property is not None):
            raise ValueError("unique_property is set exactly for the unique_count aggregation")
        low, high = self.min_quantity, self.max_quantity
        if low is not None and high is not None and to_micros(low) > to_micros(high):
            raise ValueError("min_quantity is above max_quantity")
        return self

    def columns(self) -> dict[str, object]:
        """The price row's metering columns."""

        def micros(value: int | str | None) -> int | None:
            return None if value is None else to_micros(value)

        return {
            "meter": self.meter,
            "aggregation": self.aggregation,
            "unique_property": self.unique_property,
            "min_quantity_micros": micros(self.min_quantity),
            "max_quantity_micros": micros(self.max_quantity),
            "integer_only": self.integer_only,
            "cap_micros": micros(self.cap),
            "cap_policy": self.cap_policy if self.cap is not None else None,
        }


class PriceCreate(InputModel):
    """A price's amount never changes: a new price replaces it, the old one is deactivated."""

    currency: CurrencyCode
    unit_amount: StrictInt = Field(ge=0, le=10**12, description="Minor units.", examples=[2900])
    interval: BillingInterval
    billing_price: BackendRef | None = Field(
        default=None, description="The billing price id; created on first order when absent."
    )
    metering: MeteringCreate | None = Field(
        default=None, description="Makes it a metered price, charged per unit of usage."
    )


class PriceUpdate(InputModel):
    active: StrictBool | None = None
    billing_price: BackendRef | None = None
