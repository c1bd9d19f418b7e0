"""A customer's entitlements: granted per product at a tier, changed, revoked."""

from __future__ import annotations

from starlette.requests import Request

from sandboxes.json_api import JsonObject
from sandboxes.support.state import DeskState, Entitlement
from sandboxes.support.wire import DESK, TIERS, DeskError, read_choice


async def list_entitlements(state: DeskState, request: Request) -> tuple[int, JsonObject]:
    ref = request.path_params["ref"]
    found = [e.wire() for e in state.entitlements.values() if e.customer_ref == ref]
    return 200, {"entitlements": found}


async def grant_entitlement(state: DeskState, request: Request) -> tuple[int, JsonObject]:
    ref = request.path_params["ref"]
    body = await DESK.body(request, frozenset({"product_ref", "tier"}))
    product_ref = DESK.text(body, "product_ref", max_length=40)
    tier = read_choice(body, "tier", TIERS)
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
    tier = read_choice(await DESK.body(request, frozenset({"tier"})), "tier", TIERS)
    if not entitlement.active:
        raise DeskError(409, "conflict", f"{entitlement.id} is revoked")
    entitlement.tier = tier
    return 200, entitlement.wire()


async def revoke_entitlement(state: DeskState, request: Request) -> tuple[int, JsonObject]:
    entitlement = state.entitlement(request.path_params["id"])
    if entitlement.active:
        entitlement.revoked_at = state.clock()
    return 200, entitlement.wire()
