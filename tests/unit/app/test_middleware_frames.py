"""Middleware with nothing to do once the inner app has answered leaves no coroutine of its
own on the request's stack: the task is resumed through every one of them each time it
waits, some thirty times a posting."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.governance.accept import AcceptMiddleware
from app.governance.hygiene import InputHygieneMiddleware
from app.governance.uploads import UploadMiddleware
from tests.support.frames import callers

MIDDLEWARE: dict[str, Callable[[ASGIApp], ASGIApp]] = {
    "AcceptMiddleware": AcceptMiddleware,
    "InputHygieneMiddleware": InputHygieneMiddleware,
    "UploadMiddleware": lambda app: UploadMiddleware(
        app, max_bytes=1024, timeout_seconds=1.0, max_per_client=1, trusted_proxies=[]
    ),
}


@pytest.mark.parametrize("name", sorted(MIDDLEWARE))
async def test_the_middleware_is_not_on_the_stack_while_the_app_runs(name: str) -> None:
    stack: list[str] = []
    sent: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        stack.extend(callers())
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/v2/invoices",
        "raw_path": b"/v2/invoices",
        "query_string": b"",
        "headers": [],
    }
    await MIDDLEWARE[name](app)(scope, receive, send)
    assert f"{name}.__call__" not in stack
    assert [message["type"] for message in sent] == ["http.response.start", "http.response.body"]


async def test_hygiene_checks_the_body_upload_received_without_a_frame_of_its_own() -> None:
    stack: list[str] = []
    received: list[Message] = []
    sent: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        stack.extend(callers())
        received.append(await receive())
        await send({"type": "http.response.start", "status": 201, "headers": []})

    async def send(message: Message) -> None:
        sent.append(message)

    chunks = [
        {"type": "http.request", "body": b'{"a": ', "more_body": True},
        {"type": "http.request", "body": b'"\\u0000"}', "more_body": False},
        {"type": "http.request", "body": b'{"a": 1}', "more_body": False},
    ]

    async def receive() -> Message:
        return chunks.pop(0)

    upload = UploadMiddleware(
        InputHygieneMiddleware(app),
        max_bytes=1000,
        timeout_seconds=5,
        max_per_client=2,
        trusted_proxies=[],
    )
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/invoices",
        "raw_path": b"/v1/invoices",
        "query_string": b"",
        "client": ("127.0.0.1", 1),
        "headers": [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")],
    }
    await upload(scope, receive, send)  # a NUL in a string: refused before the app
    assert (stack, sent[0]["status"]) == ([], 422)

    chunks[:] = [{"type": "http.request", "body": b'{"a": 1}', "more_body": False}]
    await upload(scope, receive, send)
    assert "InputHygieneMiddleware.__call__" not in stack
    assert received == [{"type": "http.request", "body": b'{"a": 1}', "more_body": False}]
    assert sent[-1]["status"] == 201
