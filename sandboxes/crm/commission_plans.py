"""Commission plans and their append-only rate card versions."""

from __future__ import annotations

from datetime import date

from starlette.requests import Request

from sandboxes.crm.state import CrmState
from sandboxes.crm.wire import CHANNEL, ChannelError, read_date
from sandboxes.json_api import JsonObject


async def get_plan(state: CrmState, request: Request) -> tuple[int, JsonObject]:
    return 200, state.plan(request.path_params["code"]).wire()


async def add_rate_card(state: CrmState, request: Request) -> tuple[int, JsonObject]:
    plan = state.plan(request.path_params["code"])
    body = await CHANNEL.body(request, frozenset({"effectiveFrom", "rates"}))
    effective_from = read_date(body.get("effectiveFrom"), "effectiveFrom")
    rates = body.get("rates")
    if not isinstance(rates, list) or not rates:
        CHANNEL.bad("rates")
    seen: set[str] = set()
    for number, rate in enumerate(rates):
        name = f"rates[{number}]"
        if not isinstance(rate, dict) or set(rate) != {"productTier", "rateBps"}:
            CHANNEL.bad(name)
        bps = rate["rateBps"]
        if not isinstance(bps, int) or isinstance(bps, bool) or not 0 <= bps <= 10_000:
            CHANNEL.bad(f"{name}.rateBps")
        tier = CHANNEL.text(rate, "productTier", max_length=40)
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
