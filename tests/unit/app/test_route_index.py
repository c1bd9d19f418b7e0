"""The route index answers as the router's full scan does, having tried fewer routes."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.routing import APIRoute, _IncludedRouter
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Match

from app import route_index
from app.main import create_app
from app.route_index import literal_prefix
from core.settings import Settings
from tests.support.frames import callers

METHODS = ("GET", "POST")  # a route answers one method: others are PARTIAL as POST is


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app(Settings(_env_file=None, environment="test"))  # type: ignore[call-arg]


def scope(path: str, method: str) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}


def unguarded(route: BaseRoute, path: str, method: str) -> Match:
    match, _ = type(route).matches(route, scope(path, method))
    return match


def guarded(route: BaseRoute, path: str, method: str) -> Match:
    match, _ = route.matches(scope(path, method))
    return match


def paths_of(app: FastAPI) -> list[str]:
    """A path for every route format, and near misses: one segment more, one letter off."""
    formats = {
        path_format
        for route in app.router.routes
        for path_format in (
            [c.path_format or "" for c in route.effective_route_contexts()]
            if hasattr(route, "effective_route_contexts")
            else [getattr(route, "path_format", "") or ""]
        )
    }
    paths = set()
    for path_format in formats:
        path = re.sub(r"\{[^}]+\}", "x1", path_format)
        paths |= {path, path + "/extra", path[:-1], "/" + path.lstrip("/").upper()}
    return sorted(paths | {"/", "/unknown", "/v1/", "/v9/invoices/x"})


def test_every_path_is_matched_by_the_same_route_as_a_full_scan(app: FastAPI) -> None:
    for path in paths_of(app):
        for method in METHODS:
            found = [unguarded(route, path, method) for route in app.router.routes]
            assert [guarded(route, path, method) for route in app.router.routes] == found, (
                method,
                path,
            )


def test_a_read_tries_only_the_routes_its_path_can_reach(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    tried: list[str] = []
    matches = APIRoute.matches

    def recording(route: APIRoute, scope: dict[str, Any]) -> tuple[Match, dict[str, Any]]:
        tried.append(route.path)
        return matches(route, scope)

    monkeypatch.setattr(APIRoute, "matches", recording)
    for route in app.router.routes:  # as the router scans them
        if guarded(route, "/v1/invoices/inv_1", "GET") == Match.FULL:
            break
    assert tried
    assert all(path.startswith("/v1/invoices") for path in tried), tried


def test_a_literal_prefix_ends_at_the_first_parameter() -> None:
    assert literal_prefix("/v1/invoices/{invoice_id}/void") == "/v1/invoices/"
    assert literal_prefix("/healthz") == "/healthz"


def test_a_guard_reads_the_path_itself_unless_under_a_root_path(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    called: list[str] = []
    get_route_path = route_index.get_route_path

    def recording(scope: dict[str, Any]) -> str:
        called.append(scope["path"])
        return get_route_path(scope)

    monkeypatch.setattr(route_index, "get_route_path", recording)
    routes = app.router.routes
    assert [guarded(route, "/v1/invoices/inv_1", "GET") for route in routes].count(Match.FULL)
    assert called == []  # one call less for each route passed over
    mounted = {**scope("/api/v1/invoices/inv_1", "GET"), "root_path": "/api"}
    assert [route.matches(mounted)[0] for route in routes].count(Match.FULL)
    assert called


def _routed_app(indexed: bool) -> tuple[FastAPI, list[dict[str, Any]]]:
    """Routes at the top, in an included router, in one included in it, and a mount."""
    seen: list[dict[str, Any]] = []
    app, outer, inner = FastAPI(), APIRouter(prefix="/outer"), APIRouter(prefix="/inner")

    def record(request: Request) -> dict[str, Any]:
        stack = callers()
        seen.append(
            {
                "route": request.scope["route"].path,
                "params": request.path_params,
                "endpoint": request.scope["endpoint"].__name__,
                "frames": stack[stack.index("get_request_handler.<locals>.app") + 1 :],
            }
        )
        return {"path": request.url.path}

    @app.get("/top/{item}")
    async def top(request: Request, item: int) -> dict[str, Any]:
        return record(request)

    @outer.get("/things/{thing}")
    async def thing(request: Request, thing: str) -> dict[str, Any]:
        return record(request)

    @inner.post("/deep/{part}")
    async def deep(request: Request, part: str) -> dict[str, Any]:
        return record(request)

    outer.include_router(inner)
    app.include_router(outer)
    app.mount("/static", PlainTextResponse("mounted"))
    if indexed:
        route_index.index_routes(app)
    return app, seen


async def test_a_request_reaches_its_route_as_fastapi_s_routing_would() -> None:
    requests = [
        ("GET", "/top/1"),
        ("GET", "/top/x"),  # the route's own 422
        ("GET", "/outer/things/a"),
        ("POST", "/outer/things/a"),  # 405
        ("POST", "/outer/inner/deep/b"),
        ("GET", "/outer/nowhere"),  # 404
        ("GET", "/static/file"),
    ]
    answers: dict[bool, list[tuple[int, str, str]]] = {}
    seen: dict[bool, list[dict[str, Any]]] = {}
    for indexed in (False, True):
        app, seen[indexed] = _routed_app(indexed)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            answers[indexed] = [
                (r.status_code, r.headers.get("allow", ""), r.text)
                for r in [await http.request(method, path) for method, path in requests]
            ]
    assert answers[True] == answers[False]
    drop = ("frames",)
    assert [{k: v for k, v in s.items() if k not in drop} for s in seen[True]] == [
        {k: v for k, v in s.items() if k not in drop} for s in seen[False]
    ]
    # No coroutine of FastAPI's routing between the router's caller and the route's app.
    routing = {
        "APIRouter.app",
        "_IncludedRouter.handle",
        "APIRouter.handle",
        "_IncludedRouter._handle_selected",
        "APIRoute.handle",
        "Route.handle",
    }
    assert all(routing & set(s["frames"]) for s in seen[False])
    assert [routing & set(s["frames"]) for s in seen[True]] == [set()] * 3


async def test_an_included_router_matches_a_request_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # FastAPI matches a request in an included router twice: when the router asks which
    # route matches (`matches`), and again when the chosen one handles it.
    matched: list[str] = []
    match = _IncludedRouter._match

    def recording(router: _IncludedRouter, scope: dict[str, Any]) -> Any:
        matched.append(scope["path"])
        return match(router, scope)

    monkeypatch.setattr(_IncludedRouter, "_match", recording)
    app, seen = _routed_app(indexed=True)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        assert (await http.get("/outer/things/a")).status_code == 200
        assert matched == ["/outer/things/a"]
        assert (await http.post("/outer/things/a")).status_code == 405
        assert (await http.get("/outer/nowhere")).status_code == 404
    assert [s["params"] for s in seen] == [{"thing": "a"}]


def included_matches(app: FastAPI) -> list[tuple[_IncludedRouter, route_index.IncludedMatches]]:
    return [
        (route, route_index.IncludedMatches(route))
        for route in app.router.routes
        if isinstance(route, _IncludedRouter)
    ]


def test_an_included_router_finds_the_match_fastapi_s_full_scan_finds(app: FastAPI) -> None:
    for included, matches in included_matches(app):
        for path in paths_of(app):
            for method in METHODS:
                ours, theirs = scope(path, method), scope(path, method)
                match, _ = matches(ours)
                found = ours.pop(route_index.MATCHED, (None, (Match.NONE, {}, None, None)))[1]
                theirs.setdefault("fastapi", {})["included_router"] = included
                assert found == included._match(theirs), (method, path)
                assert match == found[0]


def test_a_posting_tries_only_its_own_route(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    tried: list[str] = []
    matches = APIRoute.matches

    def recording(route: APIRoute, scope: dict[str, Any]) -> tuple[Match, dict[str, Any]]:
        tried.append(route.path)
        return matches(route, scope)

    async def nowhere(*_: Any) -> None:
        raise AssertionError("no receive, no send: only routed")

    monkeypatch.setattr(APIRoute, "matches", recording)
    posting = scope("/v1/invoices/inv_1/postings", "POST")
    routed = app.router.middleware_stack(posting, nowhere, nowhere)
    routed.close()  # type: ignore[union-attr]  # the route's app, not run
    assert tried == ["/v1/invoices/{invoice_id}/postings"]
    assert posting["route"].path == "/v1/invoices/{invoice_id}/postings"
    assert posting["path_params"] == {"invoice_id": "inv_1"}


def test_a_path_regex_that_cannot_be_an_alternative_makes_every_candidate_tried() -> None:
    app = FastAPI()
    router = APIRouter(prefix="/r")

    @router.get("/a")
    async def a() -> None: ...

    app.include_router(router)
    ((included, matches),) = included_matches(app)
    context = included.effective_candidates()[0]
    assert route_index.path_pattern(context) == "/r/a$"
    assert route_index.first_of([context, context]).match("/r/a").lastgroup == "c0"  # type: ignore[union-attr]
    assert len(matches.candidates_for("/r/elsewhere").candidates) == 0
