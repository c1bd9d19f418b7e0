"""The deal registrations the process tier answers with (mapped from the CRM's)."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from core.canonical.base import OutputModel
from system_apis.crm.schemas import DealRegistrationStatus
from system_apis.rest import VENDOR_ID_PATTERN

__all__ = ["REGISTRATION_ID_PATTERN", "DealRegistrationResource", "DealRegistrationStatus"]

REGISTRATION_ID_PATTERN = VENDOR_ID_PATTERN  # the CRM's own ids


class DealRegistrationResource(OutputModel):
    """A partner's claim to a customer for some product tiers, as the CRM decided it."""

    id: str = Field(description="The CRM's id of the registration.", examples=["DR-000001"])
    partner_id: str
    customer_id: str
    product_tiers: list[str] = Field(examples=[["pro", "enterprise"]])
    status: DealRegistrationStatus
    registered_on: date
    decided_on: date | None = Field(description="When it was approved or rejected.")
    expires_on: date
    note: str | None
