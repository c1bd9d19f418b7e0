"""Routing that skips, with one string test each, the routers a request's path cannot reach.

The app's router tries its top-level routes in order, and each included router tries
every route it holds, with FastAPI's per-route bookkeeping around each regex: a read of
`/v1/invoices/{id}` went through about ninety routes before it found its own, 40% of the
instructions the governance added to the read. A route's path matches only paths that
start with its literal text up to the first `{`, so a top-level route none of whose
routes' literal prefixes starts the path cannot match it: `index_routes` lets each
such route answer "no match" without looking further. Which route answers is the same
in the same order; a route whose paths it cannot tell (a `Host`, anything unknown)
is tried as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

Matches = Callable[[Scope], tuple[Match, Scope]]


def literal_prefix(path_format: str) -> str:
    """The text every path a route with this format matches starts with."""
    return path_format.split("{", 1)[0]


def _formats(route: BaseRoute) -> Iterable[str | None]:
    """The path formats of the routes `route` stands for (None: one it cannot tell)."""
    contexts = getattr(route, "effective_route_contexts", None)  # an included router
    if contexts is None:
        yield getattr(route, "path_format", None)
        return
    for context in contexts():
        if context.starlette_route is not None:  # a Starlette route, with its prefix
            yield getattr(context.starlette_route, "path_format", None)
        elif isinstance(context.original_route, APIRoute):
            yield context.path_format
        else:
            yield None


def prefixes_of(route: BaseRoute) -> tuple[str, ...] | None:
    """The literal prefixes of every path `route` can match; None if it cannot tell."""
    prefixes = set()
    for path_format in _formats(route):
        if not isinstance(path_format, str) or not path_format.startswith("/"):
            return None
        prefixes.add(literal_prefix(path_format))
    return tuple(sorted(prefixes)) or None


def _guarded(matches: Matches, prefixes: tuple[str, ...]) -> Matches:
    def guarded(scope: Scope) -> tuple[Match, Scope]:
        # The path itself unless the app is mounted under a root path (Starlette's
        # `get_route_path`, one call less for each route a request passes over).
        path = get_route_path(scope) if scope.get("root_path") else scope["path"]
        if path.startswith(prefixes):
            return matches(scope)
        return Match.NONE, {}

    return guarded


def index_routes(app: FastAPI) -> None:
    """Guard each top-level route with the prefixes of its paths. Call it once every
    route is added: a route added later to an included router would not be in its guard."""
    for route in app.router.routes:
        prefixes = prefixes_of(route)
        if prefixes is not None:
            route.matches = _guarded(route.matches, prefixes)  # type: ignore[method-assign,assignment]
