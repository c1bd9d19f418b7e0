"""An in-memory support desk that satisfies `SupportPort`: entitlements, cases, credits.

One active entitlement per customer and product: granting it again answers it, granting
another tier is refused. A case's priority follows the customer's highest active tier
(the routing table of `system_apis.support.port`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from system_apis.support.port import SupportPort
from system_apis.support.schemas import (
    CasePriority,
    ServiceCredit,
    ServiceCreditCreate,
    ServiceCreditDecision,
    ServiceCreditOutcome,
    ServiceCreditStatus,
    SupportAccount,
    SupportAccountStatus,
    SupportCase,
    SupportCaseCreate,
    SupportEntitlement,
    SupportEntitlementGrant,
    SupportEntitlementStatus,
    SupportTier,
)
from tests.support.fakes.recorder import Recorder

ROUTING = (  # highest first
    (SupportTier.ENTERPRISE, CasePriority.P1, timedelta(hours=1)),
    (SupportTier.PRO, CasePriority.P2, timedelta(hours=4)),
    (SupportTier.STARTER, CasePriority.P3, timedelta(hours=8)),
)


class FakeSupport:
    """`SupportPort` held in dicts; `recorder` arms failures and keeps the calls."""

    def __init__(self, *, now: datetime | None = None) -> None:
        self.recorder = Recorder("support", SupportPort)
        self.now = now or datetime(2026, 11, 15, 12, 0, tzinfo=UTC)
        self.entitlements: dict[str, SupportEntitlement] = {}
        self.cases: dict[str, SupportCase] = {}
        self.credits: dict[str, ServiceCredit] = {}
        self._keyed: dict[str, SupportCase | ServiceCredit] = {}
        self.accounts: dict[str, SupportAccount] = {}
        self._serial = 0

    def _next(self, prefix: str) -> str:
        self._serial += 1
        return f"{prefix}_fake{self._serial:05d}"

    def active(self, customer_id: str) -> dict[str, SupportTier]:
        """The customer's active entitlements: product id → tier."""
        return {
            e.product_id: e.tier
            for e in self.entitlements.values()
            if e.customer_id == customer_id and e.status == SupportEntitlementStatus.ACTIVE
        }

    # SupportAccounts

    async def set_account_status(
        self, customer_id: str, status: SupportAccountStatus
    ) -> SupportAccount:
        self.recorder.enter("set_account_status", customer_id=customer_id, status=status)
        current = self.accounts.get(customer_id)
        if current is None or current.status != status:
            current = SupportAccount(customer_id=customer_id, status=status, changed_at=self.now)
            self.accounts[customer_id] = current
        return current

    # SupportEntitlements

    async def list_entitlements(self, customer_id: str) -> tuple[SupportEntitlement, ...]:
        self.recorder.enter("list_entitlements", customer_id=customer_id)
        return tuple(e for e in self.entitlements.values() if e.customer_id == customer_id)

    async def grant_entitlement(
        self, customer_id: str, grant: SupportEntitlementGrant, *, idempotency_key: str
    ) -> SupportEntitlement:
        self.recorder.enter(
            "grant_entitlement", customer_id=customer_id, product_id=grant.product_id
        )
        for entitlement in self.entitlements.values():
            if (
                entitlement.customer_id == customer_id
                and entitlement.product_id == grant.product_id
                and entitlement.status == SupportEntitlementStatus.ACTIVE
            ):
                if entitlement.tier != grant.tier:
                    self.recorder.refuse("grant_entitlement", "another tier is active")
                return entitlement
        granted = SupportEntitlement(
            id=self._next("ent"),
            customer_id=customer_id,
            product_id=grant.product_id,
            tier=grant.tier,
            status=SupportEntitlementStatus.ACTIVE,
            granted_at=self.now,
            revoked_at=None,
        )
        self.entitlements[granted.id] = granted
        return granted

    def _entitlement(self, operation: str, entitlement_id: str) -> SupportEntitlement:
        found = self.entitlements.get(entitlement_id)
        if found is None:
            self.recorder.not_found(operation, f"no entitlement {entitlement_id}")
        return found

    async def change_entitlement_tier(
        self, entitlement_id: str, tier: SupportTier
    ) -> SupportEntitlement:
        self.recorder.enter("change_entitlement_tier", entitlement_id=entitlement_id, tier=tier)
        found = self._entitlement("change_entitlement_tier", entitlement_id)
        if found.status != SupportEntitlementStatus.ACTIVE:
            self.recorder.refuse("change_entitlement_tier", f"{entitlement_id} is revoked")
        changed = found.model_copy(update={"tier": tier})
        self.entitlements[entitlement_id] = changed
        return changed

    async def revoke_entitlement(self, entitlement_id: str) -> SupportEntitlement:
        self.recorder.enter("revoke_entitlement", entitlement_id=entitlement_id)
        found = self._entitlement("revoke_entitlement", entitlement_id)
        if found.status == SupportEntitlementStatus.REVOKED:
            return found
        revoked = found.model_copy(
            update={"status": SupportEntitlementStatus.REVOKED, "revoked_at": self.now}
        )
        self.entitlements[entitlement_id] = revoked
        return revoked

    # SupportCases

    async def open_case(self, case: SupportCaseCreate, *, idempotency_key: str) -> SupportCase:
        self.recorder.enter("open_case", customer_id=case.customer_id)
        known = self._keyed.get(idempotency_key)
        if isinstance(known, SupportCase):
            return known
        tiers = set(self.active(case.customer_id).values())
        tier, priority, within = next(
            (route for route in ROUTING if route[0] in tiers),
            (None, CasePriority.P4, timedelta(hours=48)),
        )
        opened = SupportCase(
            id=self._next("case"),
            customer_id=case.customer_id,
            subject=case.subject,
            status="open",
            priority=priority,
            entitlement_tier=tier,
            opened_at=self.now,
            first_response_due_at=self.now + within,
        )
        self.cases[opened.id] = self._keyed[idempotency_key] = opened
        return opened

    async def get_case(self, case_id: str) -> SupportCase:
        self.recorder.enter("get_case", case_id=case_id)
        found = self.cases.get(case_id)
        if found is None:
            self.recorder.not_found("get_case", f"no case {case_id}")
        return found

    # SupportServiceCredits

    async def request_service_credit(
        self, credit: ServiceCreditCreate, *, idempotency_key: str
    ) -> ServiceCredit:
        self.recorder.enter("request_service_credit", case_id=credit.case_id)
        known = self._keyed.get(idempotency_key)
        if isinstance(known, ServiceCredit):
            return known
        case = self.cases.get(credit.case_id)
        if case is None or case.customer_id != credit.customer_id:
            self.recorder.refuse("request_service_credit", "the case is not the customer's")
        requested = ServiceCredit(
            id=self._next("sc"),
            case_id=credit.case_id,
            customer_id=credit.customer_id,
            invoice_id=credit.invoice_id,
            amount=credit.amount,
            currency=credit.currency,
            reason_code=credit.reason_code,
            status=ServiceCreditStatus.REQUESTED,
            requested_at=self.now,
            decided_at=None,
            note=credit.note,
        )
        self.credits[requested.id] = self._keyed[idempotency_key] = requested
        return requested

    async def get_service_credit(self, credit_id: str) -> ServiceCredit:
        self.recorder.enter("get_service_credit", credit_id=credit_id)
        found = self.credits.get(credit_id)
        if found is None:
            self.recorder.not_found("get_service_credit", f"no service credit {credit_id}")
        return found

    async def list_service_credits(
        self, *, case_id: str | None = None, status: ServiceCreditStatus | None = None
    ) -> tuple[ServiceCredit, ...]:
        self.recorder.enter("list_service_credits", case_id=case_id)
        return tuple(
            c
            for c in self.credits.values()
            if case_id in (None, c.case_id) and status in (None, c.status)
        )

    async def decide_service_credit(
        self, credit_id: str, decision: ServiceCreditDecision
    ) -> ServiceCredit:
        self.recorder.enter("decide_service_credit", credit_id=credit_id)
        found = self.credits.get(credit_id)
        if found is None:
            self.recorder.not_found("decide_service_credit", f"no service credit {credit_id}")
        status = (
            ServiceCreditStatus.APPROVED
            if decision.decision == ServiceCreditOutcome.APPROVED
            else ServiceCreditStatus.REJECTED
        )
        if found.status == status:
            return found
        if found.status != ServiceCreditStatus.REQUESTED:
            self.recorder.refuse("decide_service_credit", f"{credit_id} is decided")
        decided = found.model_copy(update={"status": status, "decided_at": self.now})
        self.credits[credit_id] = decided
        return decided


# Statically checked: mypy fails here when the fake stops being a complete `SupportPort`.
_PORT: SupportPort = FakeSupport()
