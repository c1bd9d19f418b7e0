"""Deal registrations: registered by a partner for a customer, approved or rejected."""

from __future__ import annotations

from starlette.requests import Request

from sandboxes.crm.state import CrmState, Registration
from sandboxes.crm.wire import CHANNEL, REGISTRATION_STATUSES, ChannelError, read_date, read_tiers
from sandboxes.json_api import JsonObject, Operation


async def create_registration(state: CrmState, request: Request) -> tuple[int, JsonObject]:
    body = await CHANNEL.body(
        request, frozenset({"partnerRef", "customerRef", "productTiers", "expiresOn", "note"})
    )
    partner_ref = CHANNEL.text(body, "partnerRef", max_length=40)
    customer_ref = CHANNEL.text(body, "customerRef", max_length=40)
    tiers = read_tiers(body, "productTiers")
    expires_on = read_date(body.get("expiresOn"), "expiresOn")
    note = CHANNEL.text(body, "note", required=False, max_length=500)
    partner = state.partner(partner_ref)
    if partner.status != "active":
        raise ChannelError(422, "partner_inactive", f"partner {partner_ref} is {partner.status}")
    today = state.today()
    if expires_on <= today:
        raise ChannelError(
            422, "expiry_not_in_future", f"expiresOn must be after {today}", "expiresOn"
        )
    registration = Registration(
        id=state.next_registration_id(),
        partner_ref=partner_ref,
        customer_ref=customer_ref,
        product_tiers=list(dict.fromkeys(tiers)),
        status="pending",
        registered_on=today,
        expires_on=expires_on,
        note=note,
    )
    state.registrations[registration.id] = registration
    return 201, registration.wire(today)


async def list_registrations(state: CrmState, request: Request) -> tuple[int, JsonObject]:
    query = request.query_params
    status = query.get("status")
    if status is not None and status not in REGISTRATION_STATUSES:
        CHANNEL.bad("status")
    today = state.today()
    found = [
        r.wire(today)
        for r in state.registrations.values()
        if query.get("partnerRef") in (None, r.partner_ref)
        and query.get("customerRef") in (None, r.customer_ref)
        and status in (None, r.status_on(today))
    ]
    return 200, {"data": found}


async def get_registration(state: CrmState, request: Request) -> tuple[int, JsonObject]:
    return 200, state.registration(request.path_params["id"]).wire(state.today())


def decide(outcome: str) -> Operation[CrmState]:
    """Approving or rejecting a pending registration (again the same way: unchanged)."""

    async def operation(state: CrmState, request: Request) -> tuple[int, JsonObject]:
        registration = state.registration(request.path_params["id"])
        note = CHANNEL.text(
            await CHANNEL.body(request, frozenset({"note"})), "note", required=False, max_length=500
        )
        today = state.today()
        current = registration.status_on(today)
        if current == outcome:
            return 200, registration.wire(today)
        if current != "pending":
            raise ChannelError(
                409, "invalid_transition", f"a {current} deal registration cannot be {outcome}"
            )
        registration.status = outcome
        registration.decided_on = today
        registration.note = note if note is not None else registration.note
        return 200, registration.wire(today)

    return operation
