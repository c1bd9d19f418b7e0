"""Service credits on a ticket, requested then approved or rejected."""

from __future__ import annotations

from starlette.requests import Request

from core.currencies import is_known_currency
from sandboxes.json_api import JsonObject
from sandboxes.support.state import DeskState, ServiceCredit
from sandboxes.support.wire import (
    CREDIT_STATUSES,
    DESK,
    REASONS,
    DeskError,
    read_amount,
    read_choice,
)


async def create_service_credit(state: DeskState, request: Request) -> tuple[int, JsonObject]:
    ticket = state.ticket(request.path_params["id"])
    body = await DESK.body(
        request,
        frozenset({"customer_ref", "invoice_ref", "amount", "currency", "reason", "note"}),
    )
    customer = DESK.text(body, "customer_ref", max_length=40)
    invoice = DESK.text(body, "invoice_ref", max_length=40)
    currency = DESK.text(body, "currency", max_length=3)
    if not is_known_currency(currency):
        DESK.bad("currency")
    amount = read_amount(body, currency)
    reason = read_choice(body, "reason", REASONS)
    note = DESK.text(body, "note", required=False, max_length=500)
    if customer != ticket.requester_ref:
        raise DeskError(
            422,
            "requester_mismatch",
            f"ticket {ticket.id} was opened by {ticket.requester_ref}, not {customer}",
            "customer_ref",
        )
    credit = ServiceCredit(
        id=f"SC-{len(state.service_credits) + 1}",
        ticket_id=ticket.id,
        customer_ref=customer,
        invoice_ref=invoice,
        amount=amount,
        currency=currency,
        reason=reason,
        created_at=state.clock(),
        note=note,
    )
    state.service_credits[credit.id] = credit
    return 201, credit.wire()


async def list_service_credits(state: DeskState, request: Request) -> tuple[int, JsonObject]:
    query = request.query_params
    status = query.get("status")
    if status is not None and status not in CREDIT_STATUSES:
        DESK.bad("status")
    found = [
        c.wire()
        for c in state.service_credits.values()
        if query.get("ticket_id") in (None, c.ticket_id) and status in (None, c.status)
    ]
    return 200, {"service_credits": found}


async def get_service_credit(state: DeskState, request: Request) -> tuple[int, JsonObject]:
    return 200, state.service_credit(request.path_params["id"]).wire()


async def decide_service_credit(state: DeskState, request: Request) -> tuple[int, JsonObject]:
    credit = state.service_credit(request.path_params["id"])
    body = await DESK.body(request, frozenset({"decision", "note"}))
    decision = read_choice(body, "decision", ("approved", "rejected"))
    note = DESK.text(body, "note", required=False, max_length=500)
    if credit.status == decision:
        return 200, credit.wire()
    if credit.status != "requested":
        raise DeskError(409, "conflict", f"{credit.id} is already {credit.status}")
    credit.status = decision
    credit.decided_at = state.clock()
    credit.note = note if note is not None else credit.note
    return 200, credit.wire()
