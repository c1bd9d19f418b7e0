"""Middleware with nothing to do once the inner app has answered leaves no coroutine of its
own on the request's stack: the task is resumed through every one of them each time it
waits, some thirty times a posting."""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.governance.accept import AcceptMiddleware
from app.governance.headers import ResponseHeadersMiddleware
from app.governance.versioning import DeprecationMiddleware, VersionRegistry
from core.settings import VersioningSettings

MIDDLEWARE: dict[str, Callable[[ASGIApp], ASGIApp]] = {
    "DeprecationMiddleware": lambda app: DeprecationMiddleware(
        app, registry=VersionRegistry.from_settings(VersioningSettings())
    ),
    "ResponseHeadersMiddleware": lambda app: ResponseHeadersMiddleware(app, hsts=False),
    "AcceptMiddleware": AcceptMiddleware,
}


@pytest.mark.parametrize("name", sorted(MIDDLEWARE))
async def test_the_middleware_is_not_on_the_stack_while_the_app_runs(name: str) -> None:
    stack: list[str] = []
    sent: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        frame = sys._getframe()
        while frame is not None:
            stack.append(frame.f_code.co_qualname)
            frame = frame.f_back  # type: ignore[assignment]
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    scope = {"type": "http", "method": "GET", "path": "/v2/invoices", "headers": []}
    await MIDDLEWARE[name](app)(scope, receive, send)
    assert f"{name}.__call__" not in stack
    assert [message["type"] for message in sent] == ["http.response.start", "http.response.body"]
