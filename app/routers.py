"""Every router of the gateway, mounted with the edge policies that apply to it."""

from __future__ import annotations

from fastapi import Depends, FastAPI

from app import health
from app.experience.ops import (
    audit,
    dunning,
    events,
    exceptions,
    postings,
    reconciliation,
    revenue,
    summary,
)
from app.experience.ops.refdata import router as refdata
from app.experience.partner import router as partner
from app.governance import metrics, versioning
from app.governance.auth import server as auth_server
from app.governance.content_type import require_json_body
from app.webhooks import channel as crm_webhooks
from app.webhooks import router as webhooks
from events.webhooks.router import ops_router as ops_webhook_endpoints
from events.webhooks.router import partner_router as partner_webhook_endpoints
from events.webhooks.router import platform_router as webhook_endpoints
from process_apis.credit_memos import corrections_router as corrections
from process_apis.credit_memos import router as credit_memos
from process_apis.customers import router as customers
from process_apis.entitlements import router as entitlements
from process_apis.invoices import router as invoices
from process_apis.invoices.v2 import router as invoices_v2
from process_apis.legal_entities import router as legal_entities
from process_apis.orders import router as orders
from process_apis.payments import router as payments
from process_apis.posting_batches import router as posting_batches
from process_apis.revenue import router as revenue_schedules
from process_apis.runs import router as runs
from process_apis.settlements import router as settlements
from process_apis.subscriptions import router as subscriptions
from process_apis.usage import router as usage
from system_apis.billing import router as system_billing
from system_apis.crm import router as system_crm
from system_apis.erp import router as system_erp
from system_apis.support import router as system_support


def include_routers(app: FastAPI) -> None:
    app.include_router(health.router)
    app.include_router(auth_server.build_router())
    app.include_router(metrics.router)
    app.include_router(audit.router)
    app.include_router(events.router)
    app.include_router(exceptions.router, dependencies=[Depends(require_json_body)])
    app.include_router(postings.router, dependencies=[Depends(require_json_body)])
    app.include_router(reconciliation.router)
    app.include_router(revenue.router, dependencies=[Depends(require_json_body)])
    app.include_router(summary.router)
    app.include_router(dunning.router)
    app.include_router(refdata.router, dependencies=[Depends(require_json_body)])
    app.include_router(partner.router)
    app.include_router(versioning.router)
    json_only = [Depends(require_json_body)]
    for module in (
        legal_entities,
        customers,
        entitlements,
        subscriptions,
        orders,
        invoices,
        invoices_v2,
        runs,
    ):
        app.include_router(module.router, dependencies=json_only)
    for module in (
        credit_memos,
        corrections,
        payments,
        settlements,
        usage,
        posting_batches,
        revenue_schedules,
    ):
        app.include_router(module.router, dependencies=json_only)
    for endpoints in (webhook_endpoints, partner_webhook_endpoints, ops_webhook_endpoints):
        app.include_router(endpoints, dependencies=json_only)
    for system in (system_erp, system_billing, system_crm, system_support):
        app.include_router(system.router, dependencies=json_only)
    app.include_router(webhooks.router)  # Stripe-signed, not OAuth2; the body is read raw
    app.include_router(crm_webhooks.router)  # signed by the CRM, the same way
