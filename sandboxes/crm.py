"""A CRM / channel platform sandbox: partners, commission plans, deal registrations.

There is no vendor specification for CRM channel data, so this sandbox defines its
own wire format, the *Channel API v1*, and `system_apis.crm.adapters.channel` speaks
it. The format, under the API root `/api/v1`:

- authentication: `Authorization: Bearer <token>` (any non-empty token); without one,
  `401`;
- JSON bodies in camelCase; dates `YYYY-MM-DD`, instants ISO 8601 in UTC (`...Z`);
  rates are integer basis points (`rateBps`); unknown body fields are refused;
- partners are keyed by `partnerRef` (the integrating system's id, here Ledgergate's
  `prt_...`), customers by `customerRef`; deal registrations get the CRM's ids
  (`DR-000001`);
- `Idempotency-Key` on a POST that creates something: the same key and body answer
  the first response again (with `Idempotent-Replayed: true`); the same key with
  another body is a `409 idempotency_key_reused`;
- errors: `{"error": {"code": "...", "message": "...", "field": "..."}}` with `400
  invalid_request` (malformed body or parameter), `401 unauthenticated`, `404
  not_found`, `409 invalid_transition` / `idempotency_key_reused`, `422` business
  rules (`partner_inactive`, `rate_card_not_after_latest`, `expiry_not_in_future`).

Operations (paths under the root):

- `GET /partners?status=`: `{"data": [partner, ...]}`;
- `GET /partners/{partnerRef}`: a partner (`partnerRef`, `name`, `status`, `tier`,
  `commissionPlan`, `updatedAt`);
- `GET /partners/{partnerRef}/eligibility?customerRef=&productTier=&on=`: the question
  back, with `eligible`, `reason` and `dealRegistrationId`;
- `GET /commission-plans/{code}`: `code`, `name`, `rateCards` (`version`,
  `effectiveFrom`, `rates`: `productTier`, `rateBps`), oldest first;
- `POST /commission-plans/{code}/rate-cards`: body `effectiveFrom`, `rates`; `201` with
  the plan. Versions are append-only: a new one must start after the latest;
- `POST /deal-registrations`: body `partnerRef`, `customerRef`, `productTiers`,
  `expiresOn`, `note`; `201` with the registration;
- `GET /deal-registrations?partnerRef=&customerRef=&status=`: `{"data": [...]}`;
- `GET /deal-registrations/{id}`: a registration (the above, `id`, `status`,
  `registeredOn`, `decidedOn`);
- `POST /deal-registrations/{id}/approve` and `/reject`: body `{"note": ...}` or none.

A registration is `pending` until approved or rejected; a pending or approved one
whose `expiresOn` has come (`expiresOn <= today`) reads as `expired`. Deciding again
the same way answers the registration unchanged; any other transition is a `409`.

Eligibility on a date D: the partner is `active`, and one of its registrations for
the customer covers the product tier, was approved on or before D and expires after
D. Otherwise the reason names the nearest miss, in this order: `partner_inactive`,
`deal_registration_expired`, `deal_registration_not_yet_approved`,
`deal_registration_pending`, `deal_registration_rejected`, `no_deal_registration`.

The state is seeded with the demo estate's channel: Northwind Resellers
(`prt_..01`, gold, plan `reseller-20`) holding an approved registration for Acme
Robotics (`cus_..01`), and Fabrikam Referrals (`prt_..02`, registered, plan
`referral-10`) holding one for Initech (`cus_..03`), both for every product tier.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, NoReturn

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from core.ids import PREFIXES
from sandboxes.faults import install_faults

API_ROOT = "/api/v1"
PARTNER_STATUSES = ("active", "suspended", "terminated")
PARTNER_TIERS = ("registered", "silver", "gold")
REGISTRATION_STATUSES = ("pending", "approved", "rejected", "expired")
DEMO_PRODUCT_TIERS = ("pro", "enterprise")
RATE_CARDS_SINCE = date(2024, 1, 1)

JsonObject = dict[str, Any]


def demo_ref(kind: str, number: int) -> str:
    """The demo estate's fixed ids (`prt_00000000000000000000000001`)."""
    return f"{PREFIXES[kind]}_{number:026d}"


class ChannelError(Exception):
    def __init__(self, status: int, code: str, message: str, field_: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field_

    def body(self) -> JsonObject:
        error: JsonObject = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        return {"error": error}


@dataclass
class Partner:
    ref: str
    name: str
    status: str
    tier: str
    commission_plan: str
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def wire(self) -> JsonObject:
        return {
            "partnerRef": self.ref,
            "name": self.name,
            "status": self.status,
            "tier": self.tier,
            "commissionPlan": self.commission_plan,
            "updatedAt": self.updated_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
        }


@dataclass
class CommissionPlan:
    code: str
    name: str
    rate_cards: list[JsonObject] = field(default_factory=list)

    def wire(self) -> JsonObject:
        return {"code": self.code, "name": self.name, "rateCards": self.rate_cards}


@dataclass
class Registration:
    id: str
    partner_ref: str
    customer_ref: str
    product_tiers: list[str]
    status: str
    registered_on: date
    expires_on: date
    decided_on: date | None = None
    note: str | None = None

    def status_on(self, today: date) -> str:
        if self.status in ("pending", "approved") and self.expires_on <= today:
            return "expired"
        return self.status

    def wire(self, today: date) -> JsonObject:
        return {
            "id": self.id,
            "partnerRef": self.partner_ref,
            "customerRef": self.customer_ref,
            "productTiers": self.product_tiers,
            "status": self.status_on(today),
            "registeredOn": self.registered_on.isoformat(),
            "decidedOn": self.decided_on.isoformat() if self.decided_on else None,
            "expiresOn": self.expires_on.isoformat(),
            "note": self.note,
        }


@dataclass
class CrmState:
    """The sandbox's records. `today` is the CRM's clock for expiry and registration dates."""

    partners: dict[str, Partner] = field(default_factory=dict)
    plans: dict[str, CommissionPlan] = field(default_factory=dict)
    registrations: dict[str, Registration] = field(default_factory=dict)
    idempotent: dict[str, tuple[str, int, JsonObject]] = field(default_factory=dict)
    today: Callable[[], date] = date.today

    def partner(self, ref: str) -> Partner:
        if ref not in self.partners:
            raise ChannelError(404, "not_found", f"no partner {ref!r}")
        return self.partners[ref]

    def plan(self, code: str) -> CommissionPlan:
        if code not in self.plans:
            raise ChannelError(404, "not_found", f"no commission plan {code!r}")
        return self.plans[code]

    def registration(self, registration_id: str) -> Registration:
        if registration_id not in self.registrations:
            raise ChannelError(404, "not_found", f"no deal registration {registration_id!r}")
        return self.registrations[registration_id]

    def next_registration_id(self) -> str:
        return f"DR-{len(self.registrations) + 1:06d}"


def seeded_state(*, today: Callable[[], date] = date.today) -> CrmState:
    """The demo estate's channel (see the module docstring), relative to `today()`."""
    state = CrmState(today=today)
    day = today()
    for code, name, bps in (
        ("reseller-20", "Reseller 20 %", 2000),
        ("referral-10", "Referral 10 %", 1000),
    ):
        rates = [{"productTier": tier, "rateBps": bps} for tier in DEMO_PRODUCT_TIERS]
        card = {"version": 1, "effectiveFrom": RATE_CARDS_SINCE.isoformat(), "rates": rates}
        state.plans[code] = CommissionPlan(code, name, [card])
    channel = (
        (1, "Northwind Resellers", "gold", "reseller-20", 1),
        (2, "Fabrikam Referrals", "registered", "referral-10", 3),
    )
    for number, name, tier, plan, customer in channel:
        ref = demo_ref("partner", number)
        state.partners[ref] = Partner(ref, name, "active", tier, plan)
        registration_id = state.next_registration_id()
        state.registrations[registration_id] = Registration(
            id=registration_id,
            partner_ref=ref,
            customer_ref=demo_ref("customer", customer),
            product_tiers=list(DEMO_PRODUCT_TIERS),
            status="approved",
            registered_on=day - timedelta(days=400),
            decided_on=day - timedelta(days=399),
            expires_on=day + timedelta(days=365),
        )
    return state


# --- request reading -------------------------------------------------------------------


def _date(value: Any, name: str) -> date:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else _bad(name)
    except ValueError:
        return _bad(name)


def _bad(name: str) -> NoReturn:
    raise ChannelError(400, "invalid_request", f"{name} is missing or malformed", name)


def _text(body: JsonObject, name: str, *, required: bool = True, max_length: int = 200) -> Any:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > max_length:
        return _bad(name)
    return value


def _tiers(body: JsonObject, name: str) -> list[str]:
    value = body.get(name)
    if not isinstance(value, list) or not value or not all(isinstance(t, str) and t for t in value):
        _bad(name)
    return value


async def _json_body(request: Request, allowed: frozenset[str]) -> JsonObject:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ChannelError(400, "invalid_request", "the body is not JSON") from None
    if not isinstance(body, dict):
        raise ChannelError(400, "invalid_request", "the body must be a JSON object")
    for key in body:
        if key not in allowed:
            raise ChannelError(400, "invalid_request", f"unknown field {key!r}", key)
    return body


# --- operations --------------------------------------------------------------------------


async def list_partners(state: CrmState, request: Request) -> tuple[int, JsonObject]:
    status = request.query_params.get("status")
    if status is not None and status not in PARTNER_STATUSES:
        _bad("status")
    partners = [p.wire() for p in state.partners.values() if status in (None, p.status)]
    return 200, {"data": partners}


async def get_partner(state: CrmState, request: Request) -> tuple[int, JsonObject]:
    return 200, state.partner(request.path_params["ref"]).wire()


def _eligibility(
    state: CrmState, partner: Partner, customer_ref: str, tier: str, on: date
) -> tuple[str, str | None]:
    if partner.status != "active":
        return "partner_inactive", None
    candidates = [
        r
        for r in state.registrations.values()
        if r.partner_ref == partner.ref and r.customer_ref == customer_ref
        if tier in r.product_tiers
    ]
    today = state.today()
    misses: list[tuple[int, str, str]] = []
    for registration in candidates:
        decided = registration.decided_on
        approved = registration.status == "approved" and decided is not None
        if approved and decided is not None and decided <= on < registration.expires_on:
            return "eligible", registration.id
        if registration.status == "rejected":
            misses.append((3, "deal_registration_rejected", registration.id))
        elif registration.expires_on <= on or registration.status_on(today) == "expired":
            misses.append((0, "deal_registration_expired", registration.id))
        elif approved:
            misses.append((1, "deal_registration_not_yet_approved", registration.id))
        else:
            misses.append((2, "deal_registration_pending", registration.id))
    if not misses:
        return "no_deal_registration", None
    _, reason, registration_id = min(misses)
    return reason, registration_id


async def check_eligibility(state: CrmState, request: Request) -> tuple[int, JsonObject]:
    partner = state.partner(request.path_params["ref"])
    query = request.query_params
    customer_ref = _text(dict(query), "customerRef")
    tier = _text(dict(query), "productTier")
    on = _date(query.get("on"), "on")
    reason, registration_id = _eligibility(state, partner, customer_ref, tier, on)
    return 200, {
        "partnerRef": partner.ref,
        "customerRef": customer_ref,
        "productTier": tier,
        "on": on.isoformat(),
        "eligible": reason == "eligible",
        "reason": reason,
        "dealRegistrationId": registration_id,
    }


async def get_plan(state: CrmState, request: Request) -> tuple[int, JsonObject]:
    return 200, state.plan(request.path_params["code"]).wire()


async def add_rate_card(state: CrmState, request: Request) -> tuple[int, JsonObject]:
    plan = state.plan(request.path_params["code"])
    body = await _json_body(request, frozenset({"effectiveFrom", "rates"}))
    effective_from = _date(body.get("effectiveFrom"), "effectiveFrom")
    rates = body.get("rates")
    if not isinstance(rates, list) or not rates:
        _bad("rates")
    seen: set[str] = set()
    for number, rate in enumerate(rates):
        name = f"rates[{number}]"
        if not isinstance(rate, dict) or set(rate) != {"productTier", "rateBps"}:
            _bad(name)
        bps = rate["rateBps"]
        if not isinstance(bps, int) or isinstance(bps, bool) or not 0 <= bps <= 10_000:
            _bad(f"{name}.rateBps")
        tier = _text(rate, "productTier", max_length=40)
        if tier in seen:
            raise ChannelError(400, "invalid_request", f"two rates for {tier!r}", name)
        seen.add(tier)
    latest = plan.rate_cards[-1] if plan.rate_cards else None
    if latest is not None and date.fromisoformat(latest["effectiveFrom"]) >= effective_from:
        raise ChannelError(
            422,
            "rate_card_not_after_latest",
            f"version {latest['version']} is effective from {latest['effectiveFrom']}; "
            "a new version must start later",
            "effectiveFrom",
        )
    plan.rate_cards.append(
        {
            "version": len(plan.rate_cards) + 1,
            "effectiveFrom": effective_from.isoformat(),
            "rates": [{"productTier": r["productTier"], "rateBps": r["rateBps"]} for r in rates],
        }
    )
    return 201, plan.wire()


async def create_registration(state: CrmState, request: Request) -> tuple[int, JsonObject]:
    body = await _json_body(
        request, frozenset({"partnerRef", "customerRef", "productTiers", "expiresOn", "note"})
    )
    partner_ref = _text(body, "partnerRef", max_length=40)
    customer_ref = _text(body, "customerRef", max_length=40)
    tiers = _tiers(body, "productTiers")
    expires_on = _date(body.get("expiresOn"), "expiresOn")
    note = _text(body, "note", required=False, max_length=500)
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
        _bad("status")
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


def _decide(outcome: str) -> Callable[[CrmState, Request], Awaitable[tuple[int, JsonObject]]]:
    async def decide(state: CrmState, request: Request) -> tuple[int, JsonObject]:
        registration = state.registration(request.path_params["id"])
        note = _text(
            await _json_body(request, frozenset({"note"})), "note", required=False, max_length=500
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

    return decide


# --- HTTP ----------------------------------------------------------------------------------

Operation = Callable[[CrmState, Request], Awaitable[tuple[int, JsonObject]]]


def _endpoint(
    operation: Operation, *, keyed: bool = False
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        state: CrmState = request.app.state.crm
        try:
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise ChannelError(401, "unauthenticated", "send Authorization: Bearer <token>")
            key = request.headers.get("idempotency-key") if keyed else None
            if key is None:
                status, body = await operation(state, request)
                return JSONResponse(body, status_code=status)
            fingerprint = hashlib.sha256(
                request.url.path.encode() + b"\n" + await request.body()
            ).hexdigest()
            if key in state.idempotent:
                stored_fingerprint, status, body = state.idempotent[key]
                if stored_fingerprint != fingerprint:
                    raise ChannelError(
                        409, "idempotency_key_reused", "the key was used with another request"
                    )
                return JSONResponse(
                    body, status_code=status, headers={"Idempotent-Replayed": "true"}
                )
            status, body = await operation(state, request)
            state.idempotent[key] = (fingerprint, status, body)
            return JSONResponse(body, status_code=status)
        except ChannelError as error:
            return JSONResponse(error.body(), status_code=error.status)

    return endpoint


async def _not_found(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    error = ChannelError(status, "not_found", f"no route {request.method} {request.url.path}")
    return JSONResponse(error.body(), status_code=status)


def create_app(state: CrmState | None = None) -> Starlette:
    """The sandbox as an ASGI app; without a state, the seeded demo channel."""
    routes = [
        Route("/partners", _endpoint(list_partners), methods=["GET"]),
        Route("/partners/{ref}", _endpoint(get_partner), methods=["GET"]),
        Route("/partners/{ref}/eligibility", _endpoint(check_eligibility), methods=["GET"]),
        Route("/commission-plans/{code}", _endpoint(get_plan), methods=["GET"]),
        Route(
            "/commission-plans/{code}/rate-cards",
            _endpoint(add_rate_card, keyed=True),
            methods=["POST"],
        ),
        Route("/deal-registrations", _endpoint(create_registration, keyed=True), methods=["POST"]),
        Route("/deal-registrations", _endpoint(list_registrations), methods=["GET"]),
        Route("/deal-registrations/{id}", _endpoint(get_registration), methods=["GET"]),
        Route("/deal-registrations/{id}/approve", _endpoint(_decide("approved")), methods=["POST"]),
        Route("/deal-registrations/{id}/reject", _endpoint(_decide("rejected")), methods=["POST"]),
    ]
    app = Starlette(
        routes=[Mount(API_ROOT, routes=routes)],
        exception_handlers={HTTPException: _not_found},
    )
    app.state.crm = state if state is not None else seeded_state()
    install_faults(app, "crm")  # tests, demos and benchmarks only: see sandboxes.faults
    return app
