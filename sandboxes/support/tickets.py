"""Tickets, routed by the requester's entitlements (`SLA_POLICY`)."""

from __future__ import annotations

from starlette.requests import Request

from sandboxes.json_api import JsonObject
from sandboxes.support.state import DeskState, Ticket
from sandboxes.support.wire import DESK, FIRST_TICKET_NUMBER, SLA_POLICY


async def create_ticket(state: DeskState, request: Request) -> tuple[int, JsonObject]:
    body = await DESK.body(request, frozenset({"requester_ref", "subject", "description"}))
    requester = DESK.text(body, "requester_ref", max_length=40)
    subject = DESK.text(body, "subject")
    description = DESK.text(body, "description", required=False, max_length=5000)
    tier = state.routing_tier(requester)
    priority, minutes = SLA_POLICY[tier]
    ticket = Ticket(
        id=f"TCK-{FIRST_TICKET_NUMBER + len(state.tickets)}",
        requester_ref=requester,
        subject=subject,
        description=description,
        priority=priority,
        tier=tier,
        created_at=state.clock(),
        first_response_minutes=minutes,
        flags=("account_suspended",) if state.suspended(requester) else (),
    )
    state.tickets[ticket.id] = ticket
    return 201, ticket.wire()


async def get_ticket(state: DeskState, request: Request) -> tuple[int, JsonObject]:
    return 200, state.ticket(request.path_params["id"]).wire()
