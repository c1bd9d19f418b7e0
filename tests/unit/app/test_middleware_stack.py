"""The app's middleware stack (`stack.py`): FastAPI's layers with three coroutines less on a
request's way, the same handlers and answers."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.config import Config

from app.governance import stack as middleware_stack
from app.governance.stack import Gateway
from app.main import create_app
from tests.support.asgi import asgi_get
from tests.support.frames import callers
from tests.support.python_calls import profiled


class Refused(Exception):
    pass


class Passing:
    """A user middleware, to check the stack keeps its place."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def build(app_class: type[FastAPI]) -> tuple[FastAPI, list[str]]:
    app = app_class()
    stack: list[str] = []

    @app.get("/waits")
    async def waits(request: Request) -> dict[str, bool]:
        stack.extend(callers())
        for _ in range(10):
            await asyncio.sleep(0)
        return {"files": "fastapi_middleware_astack" in request.scope}

    @app.get("/refused")
    async def refused() -> None:
        raise Refused

    @app.get("/broken")
    async def broken() -> None:
        raise ZeroDivisionError

    async def on_anything(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"broken": type(exc).__name__}, status_code=500)

    app.add_exception_handler(Exception, on_anything)

    async def on_refused(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"refused": True}, status_code=409)

    app.add_exception_handler(Refused, on_refused)
    app.add_middleware(Passing)
    return app, stack


def test_the_gateway_builds_its_stack_without_the_pass_through_layers() -> None:
    layers, layer = [], create_app().build_middleware_stack()
    while hasattr(layer, "app"):
        layers.append(type(layer).__name__)
        layer = layer.app
    assert "ExceptionMiddleware" not in layers
    assert "AsyncExitStackMiddleware" not in layers
    assert "AppBodyLimitMiddleware" not in layers  # the app sets no app-wide limit
    assert "ExceptionTelemetryMiddleware" not in layers
    assert layers[0] == "ServerErrors"
    assert layers[-1] == "HandledExceptions"
    assert layer.__qualname__ == "dispatcher.<locals>.dispatch"  # the router's, not its __call__


async def test_the_answers_are_fastapi_s() -> None:
    for app_class in (FastAPI, Gateway):
        app, stack = build(app_class)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            waited = await http.get("/waits")
            assert (waited.status_code, waited.json()) == (200, {"files": True})
            refused = await http.get("/refused")
            assert (refused.status_code, refused.json()) == (409, {"refused": True})
            missing = await http.get("/nowhere")  # the router's 404, answered by the handler
            assert (missing.status_code, missing.json()) == (404, {"detail": "Not Found"})
            not_allowed = await http.post("/waits")
            assert (not_allowed.status_code, not_allowed.headers["allow"]) == (405, "GET")
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            broken = await http.get("/broken")  # the last resort's handler
            assert (broken.status_code, broken.json()) == (500, {"broken": "ZeroDivisionError"})
        with pytest.raises(ZeroDivisionError):  # raised again, for the server to log
            await httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://test"
            ).get("/broken")
        assert "Passing.__call__" in stack
        if app_class is Gateway:
            assert "HandledExceptions.__call__" in stack
            for gone in ("ExceptionMiddleware.__call__", "AsyncExitStackMiddleware.__call__"):
                assert gone not in stack
            assert "Router.__call__" not in stack
            assert "AppBodyLimitMiddleware.__call__" not in stack
            assert "ExceptionTelemetryMiddleware.__call__" not in stack
            assert "Starlette.__call__" not in stack
            assert "FastAPI.__call__" not in stack


async def test_a_request_telemetry_observes_takes_fastapi_s_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, stack = build(Gateway)
    monkeypatch.setattr(app._native_telemetry, "enabled", lambda: True)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        waited = await http.get("/waits")
    assert (waited.status_code, waited.json()) == (200, {"files": True})
    assert "FastAPI.__call__" in stack


async def test_the_telemetry_sees_an_unexpected_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[BaseException] = []
    monkeypatch.setattr(
        middleware_stack, "_exception", lambda **seen_by: seen.append(seen_by["exc"])
    )
    app, _ = build(Gateway)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        assert (await http.get("/broken")).status_code == 500
        assert (await http.get("/refused")).status_code == 409  # handled: not seen
    assert [type(exc) for exc in seen] == [ZeroDivisionError]


async def test_a_request_that_waits_costs_a_bounded_number_of_calls() -> None:
    # Each wait resumes every coroutine on the request's stack: with ten waits in the
    # route, a request cost 751 calls here through FastAPI's stack, 678 the gateway's.
    app, _ = build(Gateway)
    scope, receive, send, _ = asgi_get("/waits")
    await app(dict(scope), receive, send)
    with profiled() as counted:
        for _ in range(20):
            await app(dict(scope), receive, send)
    assert counted.total_calls / 20 < 690


def test_uvicorn_serves_the_gateway_as_an_asgi_3_app() -> None:
    """uvicorn takes an app whose `__call__` is no coroutine function for an ASGI 2 one
    (`app(scope)`, then the instance called): `Gateway.__call__` must stay a coroutine
    function, however few frames the layers inside it keep."""
    app = create_app()
    config = Config(app, log_config=None, proxy_headers=False)
    config.load()
    assert config.loaded_app is app
