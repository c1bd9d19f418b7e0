"""Every OAuth2 scope the gateway knows: per domain and action."""

from __future__ import annotations

SCOPES: dict[str, str] = {
    "legal_entities:read": "Read legal entities and their accounting periods.",
    "customers:read": "Read customers.",
    "customers:write": "Register and update customers.",
    "subscriptions:read": "Read subscriptions.",
    "subscriptions:write": "Order, amend and cancel subscriptions.",
    "orders:read": "Read sales orders and their status.",
    "orders:write": "Place sales orders from accepted quotes.",
    "entitlements:read": "Read customers' entitlements.",
    "entitlements:write": "Re-sync customers' entitlements to the support desk.",
    "invoices:read": "Read invoices and their posting status.",
    "invoices:write": "Register invoices.",
    "invoices:post": "Post invoices to the ERP.",
    "credit_memos:read": "Read credit memos and their workflow runs.",
    "credit_memos:write": "Request credit memos.",
    "credit_memos:approve": "Approve credit memos above the approval threshold.",
    "payments:write": "Record payments received against posted invoices.",
    "payments:reverse": "Reverse applied payments (bounced cheques, misapplied payments).",
    "settlements:read": "Read partner settlements and their lineage.",
    "settlements:write": "Run partner settlements for a period and post them to the ERP.",
    "runs:read": "Follow workflow runs.",
    "usage:write": "Send metered usage events.",
    "usage:read": "Read metered usage.",
    "partner:read": "Partner portal: a partner's own objects (partner-bound tokens).",
    "partner:webhooks": "Partner portal: manage the partner's webhook endpoints and deliveries.",
    "webhooks:read": "Read the client's own webhook endpoints, messages and delivery attempts.",
    "webhooks:write": "Manage the client's own webhook endpoints: create, change, rotate "
    "secrets, resend and recover.",
    "ops:read": "Finance operations: runs, exception queue, reconciliation.",
    "ops:write": "Finance operations: replay, resolve and discard queued runs.",
    "audit:read": "Read the audit trail.",
    "refdata:read": "Finance operations: read reference data (legal entities, periods, "
    "tax codes, partners, products, prices).",
    "refdata:write": "Finance operations: create and change reference data.",
    "metrics:read": "Scrape `/metrics` where it is not public (production).",
    "system:erp": "Call the ERP system API directly (trusted internal callers).",
    "system:billing": "Call the billing system API directly (trusted internal callers).",
    "system:crm": "Call the CRM system API directly (trusted internal callers).",
    "system:support": "Call the support system API directly (trusted internal callers).",
}

# All a partner-bound client may hold: every other scope reads across partners.
PARTNER_SCOPES = frozenset({"partner:read", "partner:webhooks"})

SYSTEM_SCOPES = frozenset(scope for scope in SCOPES if scope.startswith("system:"))

# What a SaaS platform client gets unless told otherwise: no system, ops or audit scopes.
DEFAULT_CLIENT_SCOPES = frozenset(
    {
        "legal_entities:read",
        "customers:read",
        "customers:write",
        "subscriptions:read",
        "subscriptions:write",
        "orders:read",
        "orders:write",
        "entitlements:read",
        "entitlements:write",
        "invoices:read",
        "invoices:write",
        "invoices:post",
        "credit_memos:read",
        "credit_memos:write",
        "payments:write",
        "settlements:read",
        "runs:read",
        "usage:write",
        "usage:read",
        "webhooks:read",
        "webhooks:write",
    }
)
