"""The edge's checks run as one step before a route's other dependencies, with the same
answers in the same order and the same OpenAPI document (`governed_routes.py`)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Request
from starlette.types import Message

from app.governance.content_type import require_json_body
from app.governance.governed_routes import govern_routes
from app.governance.problems import install_problem_handlers
from app.governance.query_parameters import refuse_repeated_query_parameters
from core.auth import Principal, Unauthorized, requires
from tests.support.asgi import asgi_get
from tests.support.frames import callers
from tests.support.python_calls import profiled


class CountingAuthenticator:
    """`Bearer a,b` is a client holding the scopes a and b."""

    def __init__(self) -> None:
        self.calls = 0

    async def authenticate(self, request: Request) -> Principal:
        self.calls += 1
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme != "Bearer":
            raise Unauthorized("send a token", reason="missing_token")
        return Principal(client_id="client", scopes=frozenset(token.split(",")))


def build(*, governed: bool) -> tuple[FastAPI, CountingAuthenticator]:
    app = FastAPI(dependencies=[Depends(refuse_repeated_query_parameters)])
    router = APIRouter(prefix="/things")

    @router.get("", dependencies=[requires("invoices:read")])
    async def list_things(limit: int = 10) -> dict[str, int]:
        return {"limit": limit}

    @router.post("", dependencies=[requires("invoices:write")])
    async def create_thing(
        data: dict[str, int], reader: Annotated[Principal, requires("invoices:read")]
    ) -> dict[str, Any]:
        return {"client": reader.client_id, **data}

    app.include_router(router, dependencies=[Depends(require_json_body)])

    @app.get("/top", dependencies=[requires("invoices:read")])
    async def top(request: Request) -> dict[str, str]:
        return {"client": request.state.client_id}

    install_problem_handlers(app)
    authenticator = CountingAuthenticator()
    app.state.authenticator = authenticator
    if governed:
        assert govern_routes(app) == 3
    return app, authenticator


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


def test_the_openapi_document_is_the_same() -> None:
    assert build(governed=True)[0].openapi() == build(governed=False)[0].openapi()


@pytest.mark.parametrize("governed", [False, True])
async def test_the_refusals_come_in_their_declared_order(governed: bool) -> None:
    app, _ = build(governed=governed)
    async with client(app) as http:
        repeated = await http.get("/things", params=[("limit", "1"), ("limit", "2")])
        assert repeated.status_code == 422
        assert repeated.json()["errors"][0]["code"] == "repeated"
        not_json = await http.post(
            "/things", content=b"a=1", headers={"content-type": "text/plain"}
        )
        assert not_json.status_code == 415
        no_token = await http.post("/things", json={"a": 1})
        assert no_token.status_code == 401
        assert no_token.headers["www-authenticate"] == 'Bearer realm="ledgergate"'
        no_scope = await http.get("/top", headers={"authorization": "Bearer invoices:write"})
        assert no_scope.status_code == 403
        assert no_scope.json()["missing_scopes"] == ["invoices:read"]
        bad_limit = await http.get(
            "/things", params={"limit": "x"}, headers={"authorization": "Bearer invoices:read"}
        )
        assert bad_limit.status_code == 422  # the route's own parameters, after the token
        top = await http.get("/top", headers={"authorization": "Bearer invoices:read"})
        assert (top.status_code, top.json()) == (200, {"client": "client"})


@pytest.mark.parametrize("governed", [False, True])
async def test_a_request_is_authenticated_once_whatever_asks_for_its_principal(
    governed: bool,
) -> None:
    """A route declaring one scope and taking a principal with another authenticates (and
    counts against the client's rate limit) once, not once per scope set."""
    app, authenticator = build(governed=governed)
    both = {"authorization": "Bearer invoices:read,invoices:write"}
    async with client(app) as http:
        created = await http.post("/things", json={"a": 1}, headers=both)
        assert (created.status_code, created.json()) == (200, {"client": "client", "a": 1})
        assert authenticator.calls == 1
        writer_only = await http.post(
            "/things", json={"a": 1}, headers={"authorization": "Bearer invoices:write"}
        )
        assert writer_only.status_code == 403
        assert writer_only.json()["missing_scopes"] == ["invoices:read"]
        assert authenticator.calls == 2


async def _get(app: FastAPI, path: str, headers: list[tuple[bytes, bytes]]) -> list[Message]:
    """One GET sent to the app as an ASGI call, without a client's work around it."""
    scope, receive, send, sent = asgi_get(path, headers)
    await app(scope, receive, send)
    return sent


async def test_a_governed_route_is_one_coroutine_of_its_own_on_the_stack() -> None:
    """FastAPI's `request_response` is three coroutines (its app, Starlette's exception
    wrapper, its inner app), each resumed whenever the request waits; the governed
    route's app is one, with the same exception handling."""
    app, _ = build(governed=True)
    stack: list[str] = []

    @app.get("/stack", dependencies=[requires("invoices:read")])
    async def on_stack() -> dict[str, bool]:
        stack.extend(callers())
        return {"ok": True}

    @app.get("/fails")
    async def fails() -> None:
        raise Unauthorized("send a token", reason="missing_token")

    govern_routes(app)
    auth = [(b"authorization", b"Bearer invoices:read")]
    sent = await _get(app, "/stack", auth)
    assert (sent[0]["status"], sent[1]["body"]) == (200, b'{"ok":true}')
    between = stack[stack.index("plan_handler.<locals>.app") + 1 : stack.index("Route.handle")]
    assert between == ["governed_app.<locals>.app"]
    refused = await _get(app, "/fails", [])  # a route without edge checks is governed too
    assert refused[0]["status"] == 401  # the app's handler answered it, in the route


async def test_a_governed_request_that_waits_costs_a_bounded_number_of_calls() -> None:
    # Every wait resumes each coroutine on the request's stack: with ten waits, a request
    # cost 803 calls here with FastAPI's `request_response` and the checks' coroutine,
    # 769 with the one coroutine.
    app, _ = build(governed=False)

    @app.get("/waits", dependencies=[requires("invoices:read")])
    async def waits() -> dict[str, bool]:
        for _ in range(10):
            await asyncio.sleep(0)
        return {"ok": True}

    govern_routes(app)
    auth = [(b"authorization", b"Bearer invoices:read")]
    await _get(app, "/waits", auth)
    with profiled() as counted:
        for _ in range(20):
            await _get(app, "/waits", auth)
    assert counted.total_calls / 20 < 785
