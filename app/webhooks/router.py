"""`POST /webhooks/billing/stripe`: Stripe's event deliveries, into the webhook inbox.

A public route: Stripe authenticates each delivery with the `Stripe-Signature` HMAC
of the raw body under the endpoint's secret (`LEDGERGATE_BILLING__WEBHOOK_SECRET`),
not with an OAuth2 token. A delivery that cannot be verified (header missing or
garbled, no matching signature, timestamp outside the tolerance, not an event) is a
`400` problem naming why; Stripe retries non-2xx answers, which is harmless. An
accepted event is stored in the inbox for the process tier and answered `200`; the
same event again is answered `200` with `duplicate: true` and stored once.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel

from app.webhooks.store import DatabaseReplayStore, add_to_inbox
from core.duplicates import DuplicateSource, count_duplicates
from core.problems import problem_responses
from process_apis.deps import ContextDep
from system_apis.billing.webhooks import WebhookReplayed, verify_stripe_event

logger = logging.getLogger(__name__)

PROVIDER = "stripe"

router = APIRouter(prefix="/webhooks/billing", tags=["webhooks"])


class WebhookReceipt(BaseModel):
    received: bool
    duplicate: bool


@router.post(
    "/stripe",
    response_model=WebhookReceipt,
    operation_id="webhooks-billing-stripe",
    summary="Receive a Stripe event",
    responses=problem_responses(400, 413, 429),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def receive_stripe_event(
    request: Request,
    context: ContextDep,
    stripe_signature: Annotated[
        str,
        Header(alias="Stripe-Signature", description="`t=<unix seconds>,v1=<hex HMAC-SHA256>`"),
    ],
) -> WebhookReceipt:
    """Verify a signed Stripe event delivery and put the event in the inbox once.

    Deliveries are rate limited per sender IP before any signature check, so a flood of
    forged events costs a counter increment, not an HMAC and a database round trip.
    """
    limiter = request.app.state.rate_limiter
    await limiter.enforce_ip(request, policy="webhooks", limit=limiter.settings.webhooks)
    payload = await request.body()
    billing = context.settings.billing
    async with context.sessionmaker() as session:
        store = DatabaseReplayStore(
            session, provider=PROVIDER, tolerance_seconds=billing.webhook_tolerance_seconds
        )
        try:
            event = await verify_stripe_event(
                payload,
                stripe_signature,
                billing.webhook_secret.get_secret_value(),
                replay_store=store,
                tolerance_seconds=billing.webhook_tolerance_seconds,
            )
        except WebhookReplayed:
            logger.info("webhooks.billing.duplicate", extra={"provider": PROVIDER})
            await count_duplicates(session, DuplicateSource.BILLING_WEBHOOK)
            await session.commit()
            return WebhookReceipt(received=True, duplicate=True)
        added = await add_to_inbox(
            session, provider=PROVIDER, event=event, received_at=datetime.now(UTC)
        )
        if not added:
            await count_duplicates(session, DuplicateSource.BILLING_WEBHOOK)
        await session.commit()
    logger.info(
        "webhooks.billing.received",
        extra={"event_id": event.id, "event_type": event.vendor_type, "duplicate": not added},
    )
    return WebhookReceipt(received=True, duplicate=not added)
