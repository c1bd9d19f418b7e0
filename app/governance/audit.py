"""The audit trail: every write appended once, refused authentications counted.

Operators' command-line actions are appended through `append` as well (`app/operator.py`).

Recorded after the response is sent (the caller does not wait for it), with the client,
partner, action (method and route template), object, outcome, correlation id and a
SHA-256 of the request body; or, for a write under an `Idempotency-Key`, in the
transaction that stores its answer (`core.audit`). A failed authentication (a 401, or an
address refused for failing too often) is not a row of its own but a count on the row of
its source address and minute (`auth_failures.py`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.governance.auth_failures import FailedAuthTally
from app.governance.metrics import route_template
from app.governance.rate_limit import RateLimiter, client_ip
from app.governance.uploads import BODY, Replay
from core.audit import STATE_KEY, PendingAudit
from core.ids import new_id
from core.models.audit_event import AuditEventRow

logger = logging.getLogger(__name__)

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DENIED = frozenset({401, 403})


def outcome_of(status: int) -> str:
    if status in DENIED:
        return "denied"
    if status < 400:
        return "succeeded"
    return "rejected" if status < 500 else "failed"


class AuditMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        receive, digest = hashed(scope, receive)
        status = 500
        headers: list[tuple[bytes, bytes]] = []

        async def recording_send(message: Message) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.get("headers", headers)
            await send(message)

        read = scope["method"] in READ_METHODS
        pending = None
        if not read:  # a write's row may be stored with its answer (`core.audit`)
            pending = PendingAudit(lambda code, at: _values(scope, code, at, digest()))
            scope.setdefault("state", {})[STATE_KEY] = pending
        try:
            await self.app(scope, receive, recording_send)
        finally:
            state = scope.get("state", {})
            if status == 401 or state.get("auth_failed") or state.get("audit_refusal"):
                tally: FailedAuthTally = scope["app"].state.auth_failures
                limiter: RateLimiter = scope["app"].state.rate_limiter
                tally.add(client_ip(scope, limiter.settings.trusted_proxies))
            elif pending is not None and pending.written:
                pass  # in the transaction that stored the write's answer
            elif not read or status in DENIED:
                values = _values(scope, status, location_of(headers), digest())
                await append(scope["app"].state.process.sessionmaker, AuditEventRow(**values))


def hashed(scope: Scope, receive: Receive) -> tuple[Receive, Callable[[], str]]:
    """The `receive` to pass on, and the SHA-256 of the body handed over through it: the
    body `UploadMiddleware` received whole once its `Replay` has handed it over (to a
    `receive` or `take_body`), else each body message hashed on its way in."""
    replay: Replay | None = scope.get(BODY)
    if replay is not None:
        return receive, lambda: hashlib.sha256(replay.body if replay.delivered else b"").hexdigest()
    body_hash = hashlib.sha256()

    async def hashing_receive() -> Message:
        message = await receive()
        if message["type"] == "http.request":
            body_hash.update(message.get("body", b""))
        return message

    return hashing_receive, body_hash.hexdigest


def location_of(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The answer's `Location` (the last one), looked up only for a row to write."""
    location = None
    for key, value in headers:
        if key.lower() == b"location":
            location = value.decode("latin-1")
    return location


def _values(scope: Scope, status: int, location: str | None, digest: str) -> dict[str, Any]:
    """The request's audit row's columns, for its answer's status and `Location` (those left
    out take their defaults)."""
    state = scope.get("state", {})
    principal = state.get("principal")
    refusal = state.get("audit_refusal")  # an authentication refused inside a handler
    params = scope.get("path_params") or {}
    object_id = next(iter(params.values()), None) or (
        location.rstrip("/").rsplit("/", 1)[-1] if location else None
    )
    client = scope.get("client")
    return {
        "id": new_id("audit_event"),
        "client_id": principal.client_id if principal else (refusal or {}).get("client_id"),
        "partner_id": principal.partner_id if principal else None,
        "action": f"{scope['method']} {route_template(scope)}"[:120],
        "object_id": str(object_id)[:80] if object_id else None,
        "outcome": "denied" if refusal else outcome_of(status),
        "status_code": status,
        "correlation_id": state.get("correlation_id"),
        "request_hash": digest,
        "source_ip": client[0] if client else None,
    }


async def append(sessionmaker: async_sessionmaker[AsyncSession], event: AuditEventRow) -> None:
    """Append one audit row in its own transaction; a failure is logged, never raised."""
    try:
        async with sessionmaker.begin() as session:
            session.add(event)
    except Exception as error:  # the action is done; losing its audit row must be seen
        logger.error("audit.write_failed", extra={"action": event.action, "error": repr(error)})
