"""Answering an exception with the app's handler of it, as Starlette's exception wrapper
(`wrap_app_handling_exceptions`) does, for the app's layers that catch one in a coroutine
of their own instead of in that wrapper's (`governed_routes.py`, `stack.py`)."""

from __future__ import annotations

from starlette._utils import is_async_callable
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ExceptionHandler, Message, Receive, Scope, Send
from starlette.websockets import WebSocket


def exception_handler(scope: Scope, exc: Exception) -> ExceptionHandler | None:
    """The app's handler of `exc`, looked up as Starlette's exception wrapper does."""
    exception_handlers, status_handlers = scope.get("starlette.exception_handlers", ({}, {}))
    handler = status_handlers.get(exc.status_code) if isinstance(exc, HTTPException) else None
    if handler is None:
        for cls in type(exc).__mro__:
            if cls in exception_handlers:
                return exception_handlers[cls]  # type: ignore[no-any-return]
    return handler


class WatchedSend:
    """`send`, noting whether the answer has started: an exception after that can no
    longer be answered."""

    __slots__ = ("send", "started")

    def __init__(self, send: Send) -> None:
        self.send = send
        self.started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
        await self.send(message)


async def answer_exception(
    conn: Request | WebSocket,
    exc: Exception,
    started: bool,
    scope: Scope,
    receive: Receive,
    send: Send,
) -> None:
    """Answer `exc` with the app's handler of it, as Starlette's exception wrapper does;
    raise it again when the app has none."""
    on_error = exception_handler(scope, exc)
    if on_error is None:
        raise exc
    if started:
        raise RuntimeError("Caught handled exception, but response already started.") from exc
    if is_async_callable(on_error):
        answer = await on_error(conn, exc)  # type: ignore[arg-type]
    else:
        answer = await run_in_threadpool(on_error, conn, exc)  # type: ignore[arg-type]
    if answer is not None:
        await answer(scope, receive, send)
    exc.__traceback__ = None  # a reused exception would pile up tracebacks
