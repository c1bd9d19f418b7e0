"""`SupportPort`: what the process tier may ask of any support desk.

Small Protocols per kind of object; `SupportPort` is their union. Creates carry the
caller's idempotency key downstream; tier changes, revocations and decisions are
idempotent by nature (doing it again answers the same object).

Cases are routed by entitlement: the desk gives a new case the priority of the
customer's highest active entitlement tier, and the first-response target with it.

| entitlement tier | priority | first response within |
| --- | --- | --- |
| `enterprise` | P1 | 1 hour |
| `pro` | P2 | 4 hours |
| `starter` | P3 | 8 hours |
| none | P4 | 48 hours |

A suspended account (dunning) gets no premium queue: its new cases are routed as if it
held no entitlement (P4), and the desk flags them.

The table is the desk's routing policy (its SLA configuration); the built-in sandbox
is configured with it, and a real desk must be configured to match.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from system_apis.support.schemas import (
    ServiceCredit,
    ServiceCreditCreate,
    ServiceCreditDecision,
    ServiceCreditStatus,
    SupportAccount,
    SupportAccountStatus,
    SupportCase,
    SupportCaseCreate,
    SupportEntitlement,
    SupportEntitlementGrant,
    SupportTier,
)


@runtime_checkable
class SupportEntitlements(Protocol):
    async def list_entitlements(self, customer_id: str) -> tuple[SupportEntitlement, ...]:
        """Every entitlement of the customer, revoked ones included, oldest first."""
        ...

    async def grant_entitlement(
        self, customer_id: str, grant: SupportEntitlementGrant, *, idempotency_key: str
    ) -> SupportEntitlement:
        """The active entitlement for the product; another tier than the active one's
        is refused (change its tier instead)."""
        ...

    async def change_entitlement_tier(
        self, entitlement_id: str, tier: SupportTier
    ) -> SupportEntitlement: ...

    async def revoke_entitlement(self, entitlement_id: str) -> SupportEntitlement: ...


@runtime_checkable
class SupportCases(Protocol):
    async def open_case(self, case: SupportCaseCreate, *, idempotency_key: str) -> SupportCase:
        """Open a case, prioritised by the customer's entitlement (see the module table)."""
        ...

    async def get_case(self, case_id: str) -> SupportCase: ...


@runtime_checkable
class SupportServiceCredits(Protocol):
    async def request_service_credit(
        self, credit: ServiceCreditCreate, *, idempotency_key: str
    ) -> ServiceCredit:
        """Ask for a credit on a case; the case must be the customer's."""
        ...

    async def get_service_credit(self, credit_id: str) -> ServiceCredit: ...

    async def list_service_credits(
        self, *, case_id: str | None = None, status: ServiceCreditStatus | None = None
    ) -> tuple[ServiceCredit, ...]: ...

    async def decide_service_credit(
        self, credit_id: str, decision: ServiceCreditDecision
    ) -> ServiceCredit: ...


@runtime_checkable
class SupportAccounts(Protocol):
    async def set_account_status(
        self, customer_id: str, status: SupportAccountStatus
    ) -> SupportAccount:
        """Suspend or reactivate the customer's account at the desk; setting the status it
        has already answers it unchanged."""
        ...


@runtime_checkable
class SupportPort(
    SupportEntitlements, SupportCases, SupportServiceCredits, SupportAccounts, Protocol
):
    """Everything the process tier may ask of a support desk."""
