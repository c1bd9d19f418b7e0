"""The CRM's events sent to its webhook endpoints, signed with `Channel-Signature`.

The signature is Stripe's scheme (`t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<payload>">`,
`sandboxes.stripe.signature_header`); a delivery not answered 2xx is tried again after
each of `RETRY_DELAYS`, signed afresh.
"""

from __future__ import annotations

import asyncio
import json
import time

import httpx

from sandboxes.crm.state import CrmState, WebhookEndpoint
from sandboxes.json_api import JsonObject
from sandboxes.stripe.events import signature_header

RETRY_DELAYS = (0.5, 2.0, 5.0)
TIMEOUT_SECONDS = 10.0


async def deliver_events(state: CrmState, events: list[JsonObject]) -> None:
    """Send `events`, in order, to every endpoint."""
    for event in events:
        for endpoint in state.webhook_endpoints:
            await _deliver(state, endpoint, event)


async def _deliver(state: CrmState, endpoint: WebhookEndpoint, event: JsonObject) -> None:
    payload = json.dumps(event, separators=(",", ":")).encode()
    transport = None if endpoint.app is None else httpx.ASGITransport(app=endpoint.app)
    async with httpx.AsyncClient(transport=transport, timeout=TIMEOUT_SECONDS) as client:
        for delay in (0.0, *RETRY_DELAYS):
            await asyncio.sleep(delay)
            headers = {
                "Content-Type": "application/json",
                "Channel-Signature": signature_header(payload, endpoint.secret, int(time.time())),
            }
            try:
                status: int | None = (
                    await client.post(endpoint.url, content=payload, headers=headers)
                ).status_code
            except httpx.HTTPError:
                status = None
            state.webhook_attempts.append((str(event["id"]), status))
            if status is not None and 200 <= status < 300:
                return
