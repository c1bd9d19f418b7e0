"""Rate limits per authenticated client (by tier and route class) and per IP elsewhere.

Backed by `limits`' sliding-window-counter strategy in memory, or in Redis so every
replica shares the counters; there a check and the window it leaves are one round trip
(`rate_window.py`). Every limited answer
carries the IETF `RateLimit-Policy` / `RateLimit` headers; a refusal is a 429
problem with `Retry-After`. If the counter store is unreachable the failure is
logged and, by `rate_limit_failure_mode`, the request is let through unlimited
(open) or refused with a 503 `rate-limiter-unavailable` problem (closed, the default
in production, where a Redis outage must not switch the limits off).
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import math
import time
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network

from fastapi import Request
from limits import RateLimitItem, WindowStats, parse
from starlette.types import Scope

from app.governance.metrics import RATE_LIMITED
from app.governance.rate_window import Window, sliding_window
from app.governance.raw_headers import header
from core.auth import Principal, state_of
from core.errors import LedgergateError
from core.settings import RateLimitSettings

logger = logging.getLogger(__name__)

IPNetwork = IPv4Network | IPv6Network

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FAILED_AUTH = "failed-auth"
STORE_RETRY_AFTER_SECONDS = 2


class RateLimited(LedgergateError):
    status_code = 429
    slug = "rate-limited"
    title = "Too many requests"


class RateLimiterUnavailable(LedgergateError):
    status_code = 503
    slug = "rate-limiter-unavailable"
    title = "The rate limiter cannot be reached"

    def __init__(self) -> None:
        super().__init__("the rate-limit store cannot be reached; retry shortly")
        self.headers["Retry-After"] = str(STORE_RETRY_AFTER_SECONDS)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    headers: dict[str, str]
    policy: str = ""  # what it was counted under (none when nothing was counted)
    limit: str = ""


def route_class(request: Request) -> str:
    if request.scope["path"].startswith("/system/"):  # not `request.url`: no URL to build
        return "system"
    return "read" if request.method in READ_METHODS else "write"


def client_ip(scope: Scope, trusted_proxies: list[str]) -> str:
    """The caller's address; `X-Forwarded-For` counts only when a trusted proxy sent it.
    Read from the scope: no `Request` to build, no `Address` (`request.client`)."""
    client = scope.get("client")
    peer = client[0] if client else "unknown"
    networks = _networks(tuple(trusted_proxies))
    if not networks:  # no proxy is trusted: the peer it is
        return peer

    def trusted(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in networks)

    if not trusted(peer):
        return peer
    forwarded = [
        a.strip() for a in (header(scope, b"x-forwarded-for") or "").split(",") if a.strip()
    ]
    for address in reversed(forwarded):  # the right-most hop that is not one of ours
        if not trusted(address):
            return address
    return peer


@functools.cache
def _networks(trusted_proxies: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    """The trusted proxies' networks, parsed once per setting."""
    return tuple(ipaddress.ip_network(p, strict=False) for p in trusted_proxies)


def _stash_headers(request: Request, headers: dict[str, str]) -> None:
    """Headers for whatever response this request ends with (see `headers.py`)."""
    state = state_of(request)
    stash: dict[str, str] = state.get("response_headers") or {}
    stash.update(headers)
    state["response_headers"] = stash


class RateLimiter:
    def __init__(
        self, settings: RateLimitSettings, storage_url: str, *, fail_open: bool = True
    ) -> None:
        self.settings = settings
        self.fail_open = fail_open
        self.strategy = sliding_window(storage_url)
        self.storage = self.strategy.storage
        self._items: dict[str, RateLimitItem] = {}

    def _store_down(self, error: Exception) -> None:
        """Log it; then let the request through (fail open) or refuse it (fail closed)."""
        logger.error(
            "rate_limit.storage_unavailable",
            extra={"error": repr(error), "fail_open": self.fail_open},
        )
        if not self.fail_open:
            raise RateLimiterUnavailable from error

    def _item(self, limit: str) -> RateLimitItem:
        if limit not in self._items:
            self._items[limit] = parse(limit)
        return self._items[limit]

    async def _hit(self, policy: str, key: str, limit: str) -> Verdict:
        item = self._item(limit)
        try:
            allowed, stats = await self.strategy.count(item, policy, key)
        except Exception as error:  # the counter store is down
            self._store_down(error)
            return Verdict(True, {})
        return _verdict(item, policy, limit, allowed, stats)

    async def enforce(self, request: Request, *, policy: str, key: str, limit: str) -> None:
        if not self.settings.enabled:
            return
        apply_verdict(request, await self._hit(policy, key, limit))

    def client_limit(self, request: Request, tier: str) -> tuple[str, str]:
        """The policy and limit a client of `tier` is counted under for this request."""
        cls = route_class(request)
        limits = self.settings.tiers.get(tier) or self.settings.tiers["standard"]
        return f"{tier}-{cls}", limits[cls]

    async def enforce_client(self, request: Request, principal: Principal) -> None:
        policy, limit = self.client_limit(request, principal.tier)
        await self.enforce(request, policy=policy, key=principal.client_id, limit=limit)

    async def count_client_unless_failing(
        self, request: Request, client_id: str, tier: str, version_key: str
    ) -> tuple[Verdict, str | None]:
        """`refuse_failing_address`, then the client's count, in one round trip.

        Refuses the address as `refuse_failing_address` does; otherwise takes one request
        from the client's window and answers its verdict, for `apply_verdict` once the
        caller is known to be an active client, and the version at `version_key` read in
        the same trip (None when the counters are not shared, off or unreachable).
        """
        if not self.settings.enabled:
            return Verdict(True, {}), None
        policy, limit = self.client_limit(request, tier)
        guard = Window(self._item(self.settings.failed_auth), (FAILED_AUTH, self._address(request)))
        counted = Window(self._item(limit), (policy, client_id))
        try:
            guarded = await self.strategy.count_guarded(guard, counted, version_key)
        except Exception as error:
            self._store_down(error)
            return Verdict(True, {}), None
        if not guarded.guard_open:
            raise self._failing_address(guarded.stats)
        verdict = _verdict(counted.item, policy, limit, guarded.allowed, guarded.stats)
        return verdict, guarded.version

    async def enforce_ip(self, request: Request, *, policy: str, limit: str) -> None:
        await self.enforce(request, policy=policy, key=self._address(request), limit=limit)

    async def refuse_failing_address(self, request: Request) -> None:
        """429 if this address has used up its failed authentications (nothing counted)."""
        if not self.settings.enabled:
            return
        item = self._item(self.settings.failed_auth)
        try:
            allowed, stats = await self.strategy.count(
                item, FAILED_AUTH, self._address(request), cost=0
            )
        except Exception as error:
            self._store_down(error)
            return
        if not allowed:
            raise self._failing_address(stats)

    def _failing_address(self, stats: WindowStats) -> RateLimited:
        RATE_LIMITED.labels(FAILED_AUTH).inc()
        retry_after = str(max(1, math.ceil(stats.reset_time - time.time())))
        refusal = RateLimited(
            f"too many failed authentications from this address ({self.settings.failed_auth}); "
            f"retry after {retry_after} s",
            policy=FAILED_AUTH,
        )
        refusal.headers = {"Retry-After": retry_after}
        return refusal

    def _address(self, request: Request) -> str:
        return client_ip(request.scope, self.settings.trusted_proxies)

    async def count_failed_auth(self, request: Request) -> None:
        if not self.settings.enabled:
            return
        await self._hit(FAILED_AUTH, self._address(request), self.settings.failed_auth)


def _verdict(
    item: RateLimitItem, policy: str, limit: str, allowed: bool, stats: WindowStats
) -> Verdict:
    reset = max(0, math.ceil(stats.reset_time - time.time()))
    headers = {
        "RateLimit-Policy": f'"{policy}";q={item.amount};w={item.get_expiry()}',
        "RateLimit": f'"{policy}";r={stats.remaining};t={reset}',
    }
    if not allowed:
        headers["Retry-After"] = str(max(1, reset))
    return Verdict(allowed, headers, policy, limit)


def apply_verdict(request: Request, verdict: Verdict) -> None:
    """Stash the verdict's headers for the response; a 429 if it refuses."""
    _stash_headers(request, verdict.headers)
    if not verdict.allowed:
        RATE_LIMITED.labels(verdict.policy).inc()
        error = RateLimited(
            f"the {verdict.policy} limit of {verdict.limit} is used up; retry after "
            f"{verdict.headers['Retry-After']} s",
            policy=verdict.policy,
        )
        error.headers = verdict.headers
        raise error
