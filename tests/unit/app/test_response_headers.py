"""The response headers: static, stashed and deprecation headers, built without a loop in
Python per header, added with the correlation id by the correlation middleware's one `send`
wrapper."""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute
from starlette.types import Message, Receive, Scope, Send

from app.governance.correlation import CorrelationMiddleware
from app.governance.headers import ResponseHeaders
from app.governance.versioning import VersionRegistry
from core.settings import VersioningSettings
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

    scope: dict[str, Any] = {"type": "http", "path": "/v1/invoices/inv_1", "headers": []}
    await app(scope, None, send)
    response_headers = ResponseHeaders(hsts=False)
    with python_calls() as called:
        headers = response_headers.added(scope, sent[0]["headers"])
    return headers, called


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


async def test_an_answer_leaves_with_its_id_then_the_static_stashed_and_deprecation_headers() -> (
    None
):
    """One `send` wrapper adds what three layers added in turn, in their order: the answer's
    own headers (an inner correlation id replaced), the id, the static and stashed headers,
    the deprecation headers of a replaced operation."""
    route = APIRoute(
        "/v1/invoices/{invoice_id}",
        lambda: None,
        deprecated=True,
        openapi_extra={"x-successor-version": "/v2/invoices/{invoice_id}"},
    )

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"], scope["path_params"] = route, {"invoice_id": "inv_1"}
        scope["state"]["response_headers"] = {"RateLimit": "r=1"}
        own = [(b"content-type", b"application/json"), (b"X-Correlation-ID", b"inner")]
        await send({"type": "http.response.start", "status": 200, "headers": own})
        await send({"type": "http.response.body", "body": b"{}"})

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    registry = VersionRegistry.from_settings(VersioningSettings())
    middleware = CorrelationMiddleware(app, headers=ResponseHeaders(hsts=False, registry=registry))
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/v1/invoices/inv_1",
        "headers": [(b"x-correlation-id", b"cid-1")],
    }
    await middleware(scope, None, send)  # type: ignore[arg-type]
    names = [name for name, _ in sent[0]["headers"]]
    static = [name for name, _ in ResponseHeaders(hsts=False).api]
    assert names == [
        b"content-type",
        b"x-correlation-id",
        *static[:-1],
        b"ratelimit",
        b"cache-control",
        b"deprecation",
        b"sunset",
        b"link",
    ]
    headers = dict(sent[0]["headers"])
    assert headers[b"x-correlation-id"] == b"cid-1"
    assert headers[b"link"].startswith(b'</v2/invoices/inv_1>; rel="successor-version"')
    assert sent[1] == {"type": "http.response.body", "body": b"{}"}
