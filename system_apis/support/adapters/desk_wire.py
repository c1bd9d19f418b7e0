"""The Desk API v2 wire objects (`sandboxes.support` documents the format).

Permissive on reading (`extra="ignore"`): a desk adds fields without a version change.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

DeskTier = Literal["enterprise", "pro", "starter"]


class DeskModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class DeskEntitlement(DeskModel):
    id: str
    customer_ref: str
    product_ref: str
    tier: DeskTier
    state: Literal["active", "revoked"]
    granted_at: datetime
    revoked_at: datetime | None = None


class DeskEntitlementList(DeskModel):
    entitlements: list[DeskEntitlement]


class DeskAccount(DeskModel):
    customer_ref: str
    status: Literal["active", "suspended"]
    status_changed_at: datetime | None = None


class DeskSla(DeskModel):
    first_response_minutes: int
    first_response_due_at: datetime


class DeskTicket(DeskModel):
    id: str
    requester_ref: str
    subject: str
    status: str
    priority: Literal["urgent", "high", "normal", "low"]
    entitlement_tier: DeskTier | None = None
    created_at: datetime
    sla: DeskSla


class DeskServiceCredit(DeskModel):
    id: str
    ticket_id: str
    customer_ref: str
    invoice_ref: str
    amount: str
    currency: str
    reason: Literal["outage", "sla_breach", "billing_error", "goodwill"]
    status: Literal["requested", "approved", "rejected"]
    created_at: datetime
    decided_at: datetime | None = None
    note: str | None = None


class DeskServiceCreditList(DeskModel):
    service_credits: list[DeskServiceCredit]


class DeskErrorDetail(DeskModel):
    code: str
    detail: str
    field: str | None = None


class DeskErrorBody(DeskModel):
    errors: list[DeskErrorDetail]
