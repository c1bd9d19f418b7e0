"""A support desk sandbox: entitlements, tickets routed by entitlement, service credits.

Like the CRM, the support desk has no vendor specification here, so the sandbox
defines its wire format, the *Desk API v2*, which `system_apis.support.adapters.desk`
speaks. Under the API root `/desk/v2`:

- authentication: `Authorization: Token <token>` (any non-empty token), else `401`;
- JSON bodies in snake_case; instants ISO 8601 in UTC; money as a decimal string in
  major units plus a currency (`"amount": "15.00", "currency": "USD"`); unknown body
  fields are refused;
- customers are `customer_ref` / `requester_ref` (the integrating system's ids, here
  `cus_...`); the desk's own ids are `ENT-1`, `TCK-1001`, `SC-1`;
- `Idempotency-Key` on the creating POSTs: the same key and body answer the first
  response again (`Idempotent-Replayed: true`), another body is a `409
  idempotency_key_reused`;
- errors: `{"errors": [{"code": "...", "detail": "...", "field": "..."}]}` with `400
  invalid`, `401 unauthorized`, `404 not_found`, `409 conflict` (a state that does not
  allow it, `entitlement_exists`, `idempotency_key_reused`), `422` business rules
  (`requester_mismatch`).

Operations (paths under the root):

- `GET /customers/{ref}/entitlements`: `{"entitlements": [...]}`, oldest first;
- `POST /customers/{ref}/entitlements`: body `product_ref`, `tier`; `201` new, `200`
  the same active one again, `409 entitlement_exists` for another tier;
- `PATCH /entitlements/{id}`: body `tier`; `409` once revoked;
- `DELETE /entitlements/{id}`: `200` with the entitlement revoked (again: unchanged);
- `POST /tickets`: body `requester_ref`, `subject`, `description`; `201` with the
  ticket, its `priority` and `sla`;
- `GET /tickets/{id}`: the ticket;
- `POST /tickets/{id}/service_credits`: body `customer_ref`, `invoice_ref`, `amount`,
  `currency`, `reason`, `note`; `201`;
- `GET /service_credits?ticket_id=&status=`: `{"service_credits": [...]}`;
- `GET /service_credits/{id}`: the service credit;
- `POST /service_credits/{id}/decision`: body `decision` (`approved` or `rejected`),
  `note`; `200`. Deciding again the same way answers it unchanged; the other way is
  a `409`.

Routing (the desk's SLA policy, `SLA_POLICY`): a new ticket takes the priority of the
requester's highest active entitlement tier: `enterprise` → `urgent` (first response
within 60 minutes), `pro` → `high` (240), `starter` → `normal` (480), none → `low`
(2880). The state starts empty: entitlements are granted by the gateway's workflows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, NoReturn

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from core.currencies import is_known_currency, minor_unit_exponent
from sandboxes.faults import install_faults

API_ROOT = "/desk/v2"
TIERS = ("enterprise", "pro", "starter")  # highest first
SLA_POLICY: dict[str | None, tuple[str, int]] = {
    "enterprise": ("urgent", 60),
    "pro": ("high", 240),
    "starter": ("normal", 480),
    None: ("low", 2880),
}
REASONS = ("outage", "sla_breach", "billing_error", "goodwill")
CREDIT_STATUSES = ("requested", "approved", "rejected")
FIRST_TICKET_NUMBER = 1001

JsonObject = dict[str, Any]


def _instant(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class DeskError(Exception):
    def __init__(self, status: int, code: str, detail: str, field_: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.field = field_

    def body(self) -> JsonObject:
        error: JsonObject = {"code": self.code, "detail": self.detail}
        if self.field is not None:
            error["field"] = self.field
        return {"errors": [error]}


@dataclass
class Entitlement:
    id: str
    customer_ref: str
    product_ref: str
    tier: str
    granted_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def wire(self) -> JsonObject:
        return {
            "id": self.id,
            "customer_ref": self.customer_ref,
            "product_ref": self.product_ref,
            "tier": self.tier,
            "state": "active" if self.active else "revoked",
            "granted_at": _instant(self.granted_at),
            "revoked_at": _instant(self.revoked_at),
        }


@dataclass
class Ticket:
    id: str
    requester_ref: str
    subject: str
    description: str | None
    priority: str
    tier: str | None
    created_at: datetime
    first_response_minutes: int
    status: str = "open"

    def wire(self) -> JsonObject:
        due = self.created_at + timedelta(minutes=self.first_response_minutes)
        return {
            "id": self.id,
            "requester_ref": self.requester_ref,
            "subject": self.subject,
            "description": self.description,
            "status": self.status,
            "priority": self.priority,
            "entitlement_tier": self.tier,
            "created_at": _instant(self.created_at),
            "sla": {
                "first_response_minutes": self.first_response_minutes,
                "first_response_due_at": _instant(due),
            },
        }


@dataclass
class ServiceCredit:
    id: str
    ticket_id: str
    customer_ref: str
    invoice_ref: str
    amount: Decimal
    currency: str
    reason: str
    created_at: datetime
    status: str = "requested"
    decided_at: datetime | None = None
    note: str | None = None

    def wire(self) -> JsonObject:
        exponent = minor_unit_exponent(self.currency)
        return {
            "id": self.id,
            "ticket_id": self.ticket_id,
            "customer_ref": self.customer_ref,
            "invoice_ref": self.invoice_ref,
            "amount": f"{self.amount:.{exponent}f}",
            "currency": self.currency,
            "reason": self.reason,
            "status": self.status,
            "created_at": _instant(self.created_at),
            "decided_at": _instant(self.decided_at),
            "note": self.note,
        }


@dataclass
class DeskState:
    """The desk's records; `clock` gives the current instant (tests fix it)."""

    entitlements: dict[str, Entitlement] = field(default_factory=dict)
    tickets: dict[str, Ticket] = field(default_factory=dict)
    service_credits: dict[str, ServiceCredit] = field(default_factory=dict)
    idempotent: dict[str, tuple[str, int, JsonObject]] = field(default_factory=dict)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def entitlement(self, entitlement_id: str) -> Entitlement:
        if entitlement_id not in self.entitlements:
            raise DeskError(404, "not_found", f"no entitlement {entitlement_id!r}")
        return self.entitlements[entitlement_id]

    def ticket(self, ticket_id: str) -> Ticket:
        if ticket_id not in self.tickets:
            raise DeskError(404, "not_found", f"no ticket {ticket_id!r}")
        return self.tickets[ticket_id]

    def service_credit(self, credit_id: str) -> ServiceCredit:
        if credit_id not in self.service_credits:
            raise DeskError(404, "not_found", f"no service credit {credit_id!r}")
        return self.service_credits[credit_id]

    def routing_tier(self, customer_ref: str) -> str | None:
        """The requester's highest active entitlement tier."""
        held = {
            e.tier
            for e in self.entitlements.values()
            if e.customer_ref == customer_ref and e.active
        }
        return next((tier for tier in TIERS if tier in held), None)


# --- request reading -------------------------------------------------------------------


def _invalid(name: str) -> NoReturn:
    raise DeskError(400, "invalid", f"{name} is missing or malformed", name)


def _text(body: JsonObject, name: str, *, required: bool = True, max_length: int = 200) -> Any:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        return _invalid(name)
    return value


def _choice(body: JsonObject, name: str, choices: tuple[str, ...]) -> str:
    value = body.get(name)
    if value not in choices:
        _invalid(name)
    return str(value)


async def _json_body(request: Request, allowed: frozenset[str]) -> JsonObject:
    try:
        body = json.loads(await request.body() or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise DeskError(400, "invalid", "the body is not JSON") from None
    if not isinstance(body, dict):
        raise DeskError(400, "invalid", "the body must be a JSON object")
    for key in body:
        if key not in allowed:
            raise DeskError(400, "invalid", f"unknown field {key!r}", key)
    return body


# --- operations --------------------------------------------------------------------------


async def list_entitlements(state: DeskState, request: Request) -> tuple[int, JsonObject]:
    ref = request.path_params["ref"]
    found = [e.wire() for e in state.entitlements.values() if e.customer_ref == ref]
    return 200, {"entitlements": found}


async def grant_entitlement(state: DeskState, request: Request) -> tuple[int, JsonObject]:
    ref = request.path_params["ref"]
    body = await _json_body(request, frozenset({"product_ref", "tier"}))
    product_ref = _text(body, "product_ref", max_length=40)
    tier = _choice(body, "tier", TIERS)
    for existing in state.entitlements.values():
        if existing.customer_ref == ref and existing.product_ref == product_ref and existing.active:
            if existing.tier != tier:
                raise DeskError(
                    409,
                    "entitlement_exists",
                    f"{existing.id} already gives {existing.tier} for {product_ref}; "
                    "change its tier instead",
                    "tier",
                )
            return 200, existing.wire()
    entitlement = Entitlement(
        id=f"ENT-{len(state.entitlements) + 1}",
        customer_ref=ref,
        product_ref=product_ref,
        tier=tier,
        granted_at=state.clock(),
    )
    state.entitlements[entitlement.id] = entitlement
    return 201, entitlement.wire()


async def change_entitlement(state: DeskState, request: Request) -> tuple[int, JsonObject]:
    entitlement = state.entitlement(request.path_params["id"])
    tier = _choice(await _json_body(request, frozenset({"tier"})), "tier", TIERS)
    if not entitlement.active:
        raise DeskError(409, "conflict", f"{entitlement.id} is revoked")
    entitlement.tier = tier
    return 200, entitlement.wire()


async def revoke_entitlement(state: DeskState, request: Request) -> tuple[int, JsonObject]:
    entitlement = state.entitlement(request.path_params["id"])
    if entitlement.active:
        entitlement.revoked_at = state.clock()
    return 200, entitlement.wire()


async def create_ticket(state: DeskState, request: Request) -> tuple[int, JsonObject]:
    body = await _json_body(request, frozenset({"requester_ref", "subject", "description"}))
    requester = _text(body, "requester_ref", max_length=40)
    subject = _text(body, "subject")
    description = _text(body, "description", required=False, max_length=5000)
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
    )
    state.tickets[ticket.id] = ticket
    return 201, ticket.wire()


async def get_ticket(state: DeskState, request: Request) -> tuple[int, JsonObject]:
    return 200, state.ticket(request.path_params["id"]).wire()


def _amount(body: JsonObject, currency: str) -> Decimal:
    """A positive decimal string with no more places than the currency has."""
    raw = body.get("amount")
    try:
        amount = Decimal(raw) if isinstance(raw, str) else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount <= 0:
        raise DeskError(400, "invalid", "amount must be a positive decimal string", "amount")
    scaled = amount.scaleb(minor_unit_exponent(currency))
    if scaled != scaled.to_integral_value():
        raise DeskError(400, "invalid", f"amount is finer than {currency} allows", "amount")
    return amount


async def create_service_credit(state: DeskState, request: Request) -> tuple[int, JsonObject]:
    ticket = state.ticket(request.path_params["id"])
    body = await _json_body(
        request,
        frozenset({"customer_ref", "invoice_ref", "amount", "currency", "reason", "note"}),
    )
    customer = _text(body, "customer_ref", max_length=40)
    invoice = _text(body, "invoice_ref", max_length=40)
    currency = _text(body, "currency", max_length=3)
    if not is_known_currency(currency):
        _invalid("currency")
    amount = _amount(body, currency)
    reason = _choice(body, "reason", REASONS)
    note = _text(body, "note", required=False, max_length=500)
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
        _invalid("status")
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
    body = await _json_body(request, frozenset({"decision", "note"}))
    decision = _choice(body, "decision", ("approved", "rejected"))
    note = _text(body, "note", required=False, max_length=500)
    if credit.status == decision:
        return 200, credit.wire()
    if credit.status != "requested":
        raise DeskError(409, "conflict", f"{credit.id} is already {credit.status}")
    credit.status = decision
    credit.decided_at = state.clock()
    credit.note = note if note is not None else credit.note
    return 200, credit.wire()


# --- HTTP ----------------------------------------------------------------------------------

Operation = Callable[[DeskState, Request], Awaitable[tuple[int, JsonObject]]]


def _endpoint(
    operation: Operation, *, keyed: bool = False
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        state: DeskState = request.app.state.desk
        try:
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "token" or not token.strip():
                raise DeskError(401, "unauthorized", "send Authorization: Token <token>")
            key = request.headers.get("idempotency-key") if keyed else None
            if key is None:
                status, body = await operation(state, request)
                return JSONResponse(body, status_code=status)
            fingerprint = hashlib.sha256(
                request.url.path.encode() + b"\n" + await request.body()
            ).hexdigest()
            if key in state.idempotent:
                stored, status, body = state.idempotent[key]
                if stored != fingerprint:
                    raise DeskError(
                        409, "idempotency_key_reused", "the key was used with another request"
                    )
                replayed = {"Idempotent-Replayed": "true"}
                return JSONResponse(body, status_code=status, headers=replayed)
            status, body = await operation(state, request)
            state.idempotent[key] = (fingerprint, status, body)
            return JSONResponse(body, status_code=status)
        except DeskError as error:
            return JSONResponse(error.body(), status_code=error.status)

    return endpoint


async def _not_found(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    error = DeskError(status, "not_found", f"no route {request.method} {request.url.path}")
    return JSONResponse(error.body(), status_code=status)


def create_app(state: DeskState | None = None) -> Starlette:
    """The sandbox as an ASGI app; pass a `DeskState` to inspect or seed it."""
    routes = [
        Route("/customers/{ref}/entitlements", _endpoint(list_entitlements), methods=["GET"]),
        Route(
            "/customers/{ref}/entitlements",
            _endpoint(grant_entitlement, keyed=True),
            methods=["POST"],
        ),
        Route("/entitlements/{id}", _endpoint(change_entitlement), methods=["PATCH"]),
        Route("/entitlements/{id}", _endpoint(revoke_entitlement), methods=["DELETE"]),
        Route("/tickets", _endpoint(create_ticket, keyed=True), methods=["POST"]),
        Route("/tickets/{id}", _endpoint(get_ticket), methods=["GET"]),
        Route(
            "/tickets/{id}/service_credits",
            _endpoint(create_service_credit, keyed=True),
            methods=["POST"],
        ),
        Route("/service_credits", _endpoint(list_service_credits), methods=["GET"]),
        Route("/service_credits/{id}", _endpoint(get_service_credit), methods=["GET"]),
        Route("/service_credits/{id}/decision", _endpoint(decide_service_credit), methods=["POST"]),
    ]
    app = Starlette(
        routes=[Mount(API_ROOT, routes=routes)],
        exception_handlers={HTTPException: _not_found},
    )
    app.state.desk = state if state is not None else DeskState()
    install_faults(app, "support")  # tests, demos and benchmarks only: see sandboxes.faults
    return app
