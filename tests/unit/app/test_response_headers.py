"""The response headers middleware: static and stashed headers, built without a loop in
Python per header."""

from __future__ import annotations

from typing import Any

from starlette.types import Message, Receive, Scope, Send

from app.governance.headers import ResponseHeadersMiddleware
from tests.support.python_calls import python_calls


def answering(headers: list[tuple[bytes, bytes]], stash: dict[str, str] | None) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if stash is not None:
            scope.setdefault("state", {})["response_headers"] = stash
        await send({"type": "http.response.start", "status": 200, "headers": headers})

    return app


async def started(app: Any) -> tuple[list[tuple[bytes, bytes]], list[str]]:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "path": "/v1/invoices/inv_1", "headers": []}
    middleware = ResponseHeadersMiddleware(app, hsts=False)
    with python_calls() as called:
        await middleware(scope, None, send)  # type: ignore[arg-type]
    return sent[0]["headers"], called


async def test_stashed_headers_replace_in_place_follow_and_no_store_stays_last() -> None:
    stash = {"RateLimit": "r=1", "X-Frame-Options": "SAMEORIGIN", "Cache-Control": "max-age=9"}
    headers, _ = await started(answering([(b"content-type", b"application/json")], stash))
    names = [name for name, _ in headers]
    assert names[0] == b"content-type"
    assert dict(headers)[b"x-frame-options"] == b"SAMEORIGIN"
    assert names.index(b"x-frame-options") < names.index(b"content-security-policy")
    assert names[-2:] == [b"ratelimit", b"cache-control"]
    assert dict(headers)[b"cache-control"] == b"no-store"
    assert len(names) == len(set(names))


async def test_a_response_keeps_its_own_headers() -> None:
    own = [(b"Cache-Control", b"max-age=60"), (b"x-content-type-options", b"other")]
    headers, _ = await started(answering(own, {"RateLimit": "r=1"}))
    assert headers[:2] == own
    names = [name.lower() for name, _ in headers]
    assert names.count(b"cache-control") == names.count(b"x-content-type-options") == 1
    assert names[-1] == b"ratelimit"


async def test_the_headers_are_not_walked_one_python_step_each() -> None:
    _, called = await started(answering([(b"content-type", b"application/json")], {"A": "b"}))
    assert [name for name in called if name.endswith("<genexpr>")] == []
