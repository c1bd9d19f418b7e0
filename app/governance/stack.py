"""The app's middleware stack, FastAPI's own layers with fewer coroutines on a request's way.

FastAPI wraps the user middleware in `ServerErrorMiddleware`, its exception telemetry and
its app-wide body limit, and puts inside them Starlette's `ExceptionMiddleware` (whose
exception wrapper is a coroutine of its own), FastAPI's `AsyncExitStackMiddleware` and the
router's `__call__`, which only awaits the router's app. A request's task is resumed
through every coroutine on its stack each time it waits (some twenty times a posting),
so `Gateway` builds the same stack with three of those six layers less: the exception
handling and the exit stack as one coroutine (`HandledExceptions`), the router's app
called directly, and no body limit layer when the app sets no limit (it would only
await the next one). Same handlers, same answers, same order of layers.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AsyncExitStack
from typing import Any

from fastapi import FastAPI
from fastapi._body_limit import AppBodyLimitMiddleware
from fastapi.telemetry._asgi import ExceptionTelemetryMiddleware
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, ExceptionHandler, Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from app.governance.handled import answer_exception

FILES_STACK = "fastapi_middleware_astack"  # FastAPI's key: form files are closed by it


class HandledExceptions(ExceptionMiddleware):
    """Starlette's `ExceptionMiddleware` and FastAPI's `AsyncExitStackMiddleware` inside
    it, as one coroutine."""

    def __init__(
        self, app: ASGIApp, handlers: Mapping[Any, ExceptionHandler], debug: bool = False
    ) -> None:
        super().__init__(app, handlers=handlers, debug=debug)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            async with AsyncExitStack() as stack:
                scope[FILES_STACK] = stack
                await self.app(scope, receive, send)
            return
        scope["starlette.exception_handlers"] = (self._exception_handlers, self._status_handlers)
        conn: Request | WebSocket = (
            Request(scope, receive, send)
            if scope["type"] == "http"
            else WebSocket(scope, receive, send)
        )
        started = False

        async def sender(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            async with AsyncExitStack() as stack:
                scope[FILES_STACK] = stack
                await self.app(scope, receive, sender)
        except Exception as exc:
            await answer_exception(conn, exc, started, scope, receive, sender)


class Gateway(FastAPI):
    """FastAPI with the middleware stack above; everything else is FastAPI's."""

    def build_middleware_stack(self) -> ASGIApp:
        error_handler = None
        handlers: dict[Any, ExceptionHandler] = {}
        for key, value in self.exception_handlers.items():
            if key in (500, Exception):
                error_handler = value
            else:
                handlers[key] = value
        app: ASGIApp = HandledExceptions(
            self.router.middleware_stack, handlers=handlers, debug=self.debug
        )
        for cls, args, kwargs in reversed(self.user_middleware):
            app = cls(app, *args, **kwargs)
        if self.max_body_size is not None:
            app = AppBodyLimitMiddleware(app, max_body_size=self.max_body_size)
        return ServerErrorMiddleware(
            ExceptionTelemetryMiddleware(app), handler=error_handler, debug=self.debug
        )
