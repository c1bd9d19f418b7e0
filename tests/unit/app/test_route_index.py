"""The route index answers as the router's full scan does, having tried fewer routes."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Match

from app import route_index
from app.main import create_app
from app.route_index import literal_prefix
from core.settings import Settings

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
