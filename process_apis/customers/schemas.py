"""Request and response bodies of `/v1/customers` beyond the canonical customer."""

from __future__ import annotations

from pydantic import EmailStr, Field

from core.canonical.base import InputModel, ShortText
from core.canonical.dunning import CustomerDunning
from core.canonical.parties import Customer, CustomerStatus
from process_apis.runs.schemas import RunRef


class CustomerUpdate(InputModel):
    """The fields to change; those left out keep their value. `partner_id: null` detaches."""

    name: ShortText | None = None
    email: EmailStr | None = None
    status: CustomerStatus | None = Field(
        default=None, description="`active`, `blocked` or `archived` (archived is final)."
    )
    partner_id: str | None = Field(
        default=None, max_length=40, description="Partner the customer is attributed to."
    )


class CustomerResource(Customer):
    """A customer and the run that synced it to billing and the ERP, when one just ran."""

    sync: RunRef | None = Field(
        default=None, description="The `customer_sync` run this write started."
    )
    dunning: CustomerDunning | None = Field(
        default=None,
        description="The customer's dunning state (`GET` only): `none`, `dunning` or `suspended`.",
    )
