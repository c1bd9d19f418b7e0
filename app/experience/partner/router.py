"""Every `/partner/v1` route, one module per resource.

Every query is scoped to the token's partner: another partner's object is not
found (404), never forbidden, so ids cannot be probed for existence.
"""

from __future__ import annotations

from fastapi import APIRouter

from app.experience.partner import (
    commissions,
    customers,
    deal_registrations,
    invoices,
    statements,
    subscriptions,
)

router = APIRouter(prefix="/partner/v1", tags=["partner"])
for module in (customers, subscriptions, invoices, commissions, statements, deal_registrations):
    router.include_router(module.router)
