"""What the two sandboxes with a wire format of their own share (the CRM's Channel API
and the support desk's Desk API): the error answer, body and text readers, and the
HTTP endpoint with its token check and `Idempotency-Key` replay.

Each API is one `JsonApi` value naming its conventions: the state's attribute on the
app, the authorization scheme, the error class (its body shape) and its codes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol, TypeVar

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

JsonObject = dict[str, Any]


class WireError(Exception):
    """An error answer; a subclass gives the API's body shape."""

    def __init__(self, status: int, code: str, message: str, field_: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field_

    def body(self) -> JsonObject:
        raise NotImplementedError


class KeyedState(Protocol):
    """A sandbox state that keeps the answers of keyed requests (fingerprint, status, body)."""

    idempotent: dict[str, tuple[str, int, JsonObject]]


State = TypeVar("State", bound=KeyedState)
Operation = Callable[[State, Request], Awaitable[tuple[int, JsonObject]]]
Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class JsonApi:
    """One API's conventions (see the module docstring)."""

    state_attribute: str
    auth_scheme: str
    error: type[WireError]
    invalid_code: str
    unauthenticated_code: str
    visible_text_only: bool = False

    def bad(self, name: str) -> NoReturn:
        raise self.error(400, self.invalid_code, f"{name} is missing or malformed", name)

    def text(
        self, body: JsonObject, name: str, *, required: bool = True, max_length: int = 200
    ) -> Any:
        """A non-empty string of at most `max_length` (with `visible_text_only`, not blank)."""
        value = body.get(name)
        if value is None and not required:
            return None
        if not isinstance(value, str) or len(value) > max_length:
            self.bad(name)
        if not (value.strip() if self.visible_text_only else value):
            self.bad(name)
        return value

    async def body(self, request: Request, allowed: frozenset[str]) -> JsonObject:
        """The JSON object sent (none: `{}`), refusing any field not `allowed`."""
        try:
            body = json.loads(await request.body() or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise self.error(400, self.invalid_code, "the body is not JSON") from None
        if not isinstance(body, dict):
            raise self.error(400, self.invalid_code, "the body must be a JSON object")
        for key in body:
            if key not in allowed:
                raise self.error(400, self.invalid_code, f"unknown field {key!r}", key)
        return body

    def endpoint(self, operation: Operation[State], *, keyed: bool = False) -> Endpoint:
        """The operation over HTTP; `keyed` ones replay the answer to a repeated key."""

        async def endpoint(request: Request) -> Response:
            state: State = getattr(request.app.state, self.state_attribute)
            try:
                self._authenticate(request)
                key = request.headers.get("idempotency-key") if keyed else None
                if key is None:
                    status, body = await operation(state, request)
                    return JSONResponse(body, status_code=status)
                return await self._keyed(state, request, key, operation)
            except WireError as error:
                return JSONResponse(error.body(), status_code=error.status)

        return endpoint

    async def not_found(self, request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        error = self.error(status, "not_found", f"no route {request.method} {request.url.path}")
        return JSONResponse(error.body(), status_code=status)

    def _authenticate(self, request: Request) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != self.auth_scheme.lower() or not token.strip():
            raise self.error(
                401,
                self.unauthenticated_code,
                f"send Authorization: {self.auth_scheme} <token>",
            )

    async def _keyed(
        self, state: State, request: Request, key: str, operation: Operation[State]
    ) -> Response:
        fingerprint = hashlib.sha256(
            request.url.path.encode() + b"\n" + await request.body()
        ).hexdigest()
        if key in state.idempotent:
            stored, status, body = state.idempotent[key]
            if stored != fingerprint:
                raise self.error(
                    409, "idempotency_key_reused", "the key was used with another request"
                )
            replayed = {"Idempotent-Replayed": "true"}
            return JSONResponse(body, status_code=status, headers=replayed)
        status, body = await operation(state, request)
        state.idempotent[key] = (fingerprint, status, body)
        return JSONResponse(body, status_code=status)
