"""Canonical support objects ⇄ Desk API v2 wire objects. Pure functions, no I/O.

The desk speaks money as decimal strings in major units; the canonical model in
integer minor units (`core.money`). Its priorities are words; ours are P1-P4.
"""

from __future__ import annotations

from typing import Any

from core.money import from_decimal, to_decimal
from system_apis.support.adapters.desk_wire import DeskEntitlement, DeskServiceCredit, DeskTicket
from system_apis.support.schemas import (
    CasePriority,
    ServiceCredit,
    ServiceCreditCreate,
    ServiceCreditReason,
    ServiceCreditStatus,
    SupportCase,
    SupportCaseCreate,
    SupportEntitlement,
    SupportEntitlementGrant,
    SupportEntitlementStatus,
    SupportTier,
)

PRIORITIES = {
    "urgent": CasePriority.P1,
    "high": CasePriority.P2,
    "normal": CasePriority.P3,
    "low": CasePriority.P4,
}


def entitlement_from_desk(entitlement: DeskEntitlement) -> SupportEntitlement:
    return SupportEntitlement(
        id=entitlement.id,
        customer_id=entitlement.customer_ref,
        product_id=entitlement.product_ref,
        tier=SupportTier(entitlement.tier),
        status=SupportEntitlementStatus(entitlement.state),
        granted_at=entitlement.granted_at,
        revoked_at=entitlement.revoked_at,
    )


def grant_to_desk(grant: SupportEntitlementGrant) -> dict[str, Any]:
    return {"product_ref": grant.product_id, "tier": grant.tier.value}


def case_to_desk(case: SupportCaseCreate) -> dict[str, Any]:
    body: dict[str, Any] = {"requester_ref": case.customer_id, "subject": case.subject}
    if case.description is not None:
        body["description"] = case.description
    return body


def case_from_desk(ticket: DeskTicket) -> SupportCase:
    return SupportCase(
        id=ticket.id,
        customer_id=ticket.requester_ref,
        subject=ticket.subject,
        status=ticket.status,
        priority=PRIORITIES[ticket.priority],
        entitlement_tier=None
        if ticket.entitlement_tier is None
        else SupportTier(ticket.entitlement_tier),
        opened_at=ticket.created_at,
        first_response_due_at=ticket.sla.first_response_due_at,
    )


def service_credit_to_desk(credit: ServiceCreditCreate) -> dict[str, Any]:
    body: dict[str, Any] = {
        "customer_ref": credit.customer_id,
        "invoice_ref": credit.invoice_id,
        "amount": str(to_decimal(credit.amount, credit.currency)),
        "currency": credit.currency,
        "reason": credit.reason_code.value,
    }
    if credit.note is not None:
        body["note"] = credit.note
    return body


def service_credit_from_desk(credit: DeskServiceCredit) -> ServiceCredit:
    """Raises `ValueError` for an amount the currency cannot hold (a contract breach)."""
    return ServiceCredit(
        id=credit.id,
        case_id=credit.ticket_id,
        customer_id=credit.customer_ref,
        invoice_id=credit.invoice_ref,
        amount=from_decimal(credit.amount, credit.currency),
        currency=credit.currency,
        reason_code=ServiceCreditReason(credit.reason),
        status=ServiceCreditStatus(credit.status),
        requested_at=credit.created_at,
        decided_at=credit.decided_at,
        note=credit.note,
    )
