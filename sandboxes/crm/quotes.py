"""Quotes: drafted for a customer, accepted once; acceptance records a `quote.accepted`
event, sent to the webhook endpoints after the answer (`sandboxes.crm.webhooks`)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from starlette.requests import Request

from sandboxes.crm.state import CrmState, Quote, QuoteLine
from sandboxes.crm.wire import CHANNEL, read_date
from sandboxes.json_api import JsonObject


async def create_quote(state: CrmState, request: Request) -> tuple[int, JsonObject]:
    body = await CHANNEL.body(
        request, frozenset({"customerRef", "partnerRef", "serviceStart", "lines"})
    )
    quote = Quote(
        id=f"Q-{len(state.quotes) + 1:06d}",
        customer_ref=CHANNEL.text(body, "customerRef", max_length=40),
        partner_ref=CHANNEL.text(body, "partnerRef", required=False, max_length=40),
        service_start=read_date(body.get("serviceStart"), "serviceStart"),
        lines=_lines(body.get("lines")),
    )
    state.quotes[quote.id] = quote
    return 201, quote.wire()


async def get_quote(state: CrmState, request: Request) -> tuple[int, JsonObject]:
    return 200, state.quote(request.path_params["id"]).wire()


async def accept_quote(state: CrmState, request: Request) -> tuple[int, JsonObject]:
    """Accept the quote; accepting it again answers it unchanged and records no event."""
    quote = state.quote(request.path_params["id"])
    if quote.status != "accepted":
        quote.status = "accepted"
        quote.accepted_at = datetime.now(UTC).replace(microsecond=0)
        event = {
            "id": f"evt_{uuid.uuid4().hex}",
            "type": "quote.accepted",
            "createdAt": quote.accepted_at.isoformat(),
            "data": quote.wire(),
        }
        state.events.append(event)
        state.outbox.append(event)
    return 200, quote.wire()


def _lines(value: object) -> list[QuoteLine]:
    """A non-empty list of `{"priceRef", "quantity"}` with a positive quantity."""
    if not isinstance(value, list) or not value:
        CHANNEL.bad("lines")
    lines = []
    for line in value:
        if not isinstance(line, dict) or set(line) - {"priceRef", "quantity"}:
            CHANNEL.bad("lines")
        quantity = line.get("quantity", 1)
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
            CHANNEL.bad("lines")
        lines.append(QuoteLine(CHANNEL.text(line, "priceRef", max_length=40), quantity))
    return lines
