"""Response bodies of the entitlement routes."""

from __future__ import annotations

from pydantic import Field

from core.canonical.base import OutputModel
from core.canonical.subscriptions import Entitlement
from process_apis.runs.schemas import RunRef


class EntitlementList(OutputModel):
    customer_id: str
    entitlements: list[Entitlement]


class SupportEntitlementView(OutputModel):
    """One of the customer's active entitlements as the support desk holds it."""

    id: str = Field(description="The desk's id.")
    product_id: str
    tier: str


class EntitlementResync(EntitlementList):
    """The customer's entitlements after a re-sync, and what the desk now holds."""

    run: RunRef
    support: list[SupportEntitlementView] = Field(
        description="The desk's active entitlements after the re-sync (empty while queued)."
    )
