"""The app's middleware stack, FastAPI's own layers with fewer coroutines on a request's way.

FastAPI wraps the user middleware in `ServerErrorMiddleware`, its exception telemetry
(`ExceptionTelemetryMiddleware`) and its app-wide body limit, and puts inside them
Starlette's `ExceptionMiddleware` (whose exception wrapper is a coroutine of its own),
FastAPI's `AsyncExitStackMiddleware` and the router's `__call__`, which only awaits the
router's app. A request's task is resumed through every coroutine on its stack each time
it waits (some twenty times a posting), so `Gateway` builds the same stack with four of
those seven coroutines less: the last-resort 500 and the exception telemetry as one
(`ServerErrors`), the exception handling and the exit stack as another
(`HandledExceptions`), the router's app called directly, and no body limit layer when the
app sets no limit (it would only await the next one). Same handlers, same answers, same
order of layers. `Gateway.__call__` is FastAPI's and Starlette's `__call__` in one.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

from fastapi import FastAPI
from fastapi._body_limit import AppBodyLimitMiddleware
from fastapi.telemetry._asgi import _exception
from starlette._utils import is_async_callable
from starlette.concurrency import run_in_threadpool
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, ExceptionHandler, Receive, Scope, Send
from starlette.websockets import WebSocket

from app.governance.handled import WatchedSend, answer_exception

FILES_STACK = "fastapi_middleware_astack"  # FastAPI's key: form files are closed by it


class ServerErrors(ServerErrorMiddleware):
    """Starlette's `ServerErrorMiddleware` and FastAPI's `ExceptionTelemetryMiddleware`
    inside it, as one coroutine: the telemetry sees an exception, then the 500 is sent
    (unless the answer started) and the exception raised again for the server to log."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            try:
                await self.app(scope, receive, send)
            except Exception as exc:
                _exception(scope=scope, exc=exc)
                raise
            return
        sender = WatchedSend(send)
        try:
            await self.app(scope, receive, sender)
        except Exception as exc:
            _exception(scope=scope, exc=exc)
            request = Request(scope)
            if self.debug:
                response = await run_in_threadpool(self.debug_response, request, exc)
            elif self.handler is None:
                response = self.error_response(request, exc)
            elif is_async_callable(self.handler):
                response = await self.handler(request, exc)  # type: ignore[assignment, arg-type]
            else:
                response = await run_in_threadpool(self.handler, request, exc)  # type: ignore[arg-type]
            if not sender.started:
                await response(scope, receive, send)
            raise


class HandledExceptions(ExceptionMiddleware):
    """Starlette's `ExceptionMiddleware` and FastAPI's `AsyncExitStackMiddleware` inside
    it, as one coroutine."""

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
        sender = WatchedSend(send)
        try:
            async with AsyncExitStack() as stack:
                scope[FILES_STACK] = stack
                await self.app(scope, receive, sender)
        except Exception as exc:
            await answer_exception(conn, exc, sender.started, scope, receive, sender)


class Gateway(FastAPI):
    """FastAPI with the middleware stack above; everything else is FastAPI's."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """`FastAPI.__call__` and `Starlette.__call__` as one coroutine for an HTTP request
        FastAPI's native telemetry does not observe (none does unless OpenTelemetry is
        configured); FastAPI's own way for the others and the lifespan."""
        if scope["type"] != "http" or (
            "fastapi.telemetry" not in scope and self._native_telemetry.enabled()
        ):
            await super().__call__(scope, receive, send)
            return
        if self.root_path:
            scope["root_path"] = self.root_path
        scope["app"] = self
        if self.middleware_stack is None:
            self.middleware_stack = self.build_middleware_stack()
        await self.middleware_stack(scope, receive, send)

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
        return ServerErrors(app, handler=error_handler, debug=self.debug)
