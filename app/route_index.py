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

`index_routes` also hands a request to its route without FastAPI's coroutines in
between: the router's app, the included router's `handle`, its router's `handle`, its
`_handle_selected` and the route's `handle` each await the next and nothing more, and a
request's task is resumed through every one of them each time it waits (some twenty
times a posting). `dispatch`, `select` and `_handle` do what they do, as plain functions that
return the route's app's awaitable: the same scope, the same route, the same answers.
An included router's match is found once (`matching`), not again by its `handle`.
Anything but an HTTP request matching a FastAPI route (a 404, a 405, a mount, a
lifespan) takes FastAPI's way, which matches again from the start.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from functools import partial

from fastapi import FastAPI
from fastapi.routing import (
    _FASTAPI_EFFECTIVE_ROUTE_CONTEXT_KEY,
    _FASTAPI_INCLUDED_ROUTER_KEY,
    _SCOPE_MISSING,
    APIRoute,
    APIRouter,
    _apply_router_form_limits,
    _get_fastapi_scope,
    _get_scope_effective_route_context,
    _IncludedRouter,
    _restore_fastapi_scope_key,
    _update_scope,
)
from fastapi.telemetry._api import _route_selected
from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Match, Mount
from starlette.types import ASGIApp, Receive, Scope, Send

Matches = Callable[[Scope], tuple[Match, Scope]]
MATCHED = "ledgergate.matched"  # an included router's match, from `matching` to `select`


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


def matching(included: _IncludedRouter) -> Matches:
    """`included.matches` (its router's `matches`, `_match` with the included router in
    the scope), keeping what it found in the scope for `select`, which would otherwise
    match the request again from the start."""

    def matches(scope: Scope) -> tuple[Match, Scope]:
        fastapi_scope = _get_fastapi_scope(scope)
        previous = fastapi_scope.get(_FASTAPI_INCLUDED_ROUTER_KEY, _SCOPE_MISSING)
        fastapi_scope[_FASTAPI_INCLUDED_ROUTER_KEY] = included
        try:
            found = included._match(scope)
        finally:
            _restore_fastapi_scope_key(scope, _FASTAPI_INCLUDED_ROUTER_KEY, previous)
        if found[0] != Match.NONE:
            scope[MATCHED] = (included, found)
        return found[0], {}

    return matches


def dispatcher(router: APIRouter) -> ASGIApp:
    """The router's app (`APIRouter.app`) for an HTTP request whose route matches in full."""
    routers_way = router.middleware_stack

    def dispatch(scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        if scope["type"] != "http":
            return routers_way(scope, receive, send)
        _apply_router_form_limits(scope, router.form_limits)
        if "router" not in scope:
            scope["router"] = router
        for route in router.routes:
            match, child_scope = route.matches(scope)
            if match == Match.FULL:
                _update_scope(scope, child_scope)
                path = getattr(route, "path_format", None)
                _route_selected(scope=scope, path=path, mount=isinstance(route, Mount))
                return _handle(route, scope, receive, send)
            if match == Match.PARTIAL:
                break
        return routers_way(scope, receive, send)

    return dispatch


def select(
    included: _IncludedRouter, scope: Scope, receive: Receive, send: Send
) -> Awaitable[None]:
    """The included router's `handle`, down to its FastAPI route's app, for a request its
    router matched (`_IncludedRouter.handle`, `APIRouter.handle`, `_handle_selected`,
    `APIRoute.handle`)."""
    _apply_router_form_limits(scope, included.include_context.form_limits)
    fastapi_scope = _get_fastapi_scope(scope)
    fastapi_scope[_FASTAPI_INCLUDED_ROUTER_KEY] = included
    matched = scope.pop(MATCHED, None)
    found = matched[1] if matched is not None and matched[0] is included else None
    _, child_scope, route, context = found or included._match(scope)
    if isinstance(route, _IncludedRouter):
        _update_scope(scope, child_scope)
        return select(route, scope, receive, send)
    if context is None or not isinstance(context.original_route, APIRoute):
        return included._handle_selected(scope, receive, send)  # no match, a mount...
    _update_scope(scope, child_scope)
    path = getattr(context.starlette_route, "path_format", None) or context.path_format
    _route_selected(scope=scope, path=path, mount=isinstance(route, Mount))
    fastapi_scope[_FASTAPI_EFFECTIVE_ROUTE_CONTEXT_KEY] = context
    scope["route"] = context.original_route
    methods = context.methods
    if (methods and scope["method"] not in methods) or context.app is None:
        return context.original_route.handle(scope, receive, send)  # its 405
    return context.app(scope, receive, send)


def _handle(route: BaseRoute, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
    """`route.handle(...)` for a top-level route, without the coroutines of a FastAPI
    route's own (`APIRoute.handle`, `Route.handle`) when it answers the method."""
    if (
        isinstance(route, APIRoute)
        and _get_scope_effective_route_context(scope) is None
        and (not route.methods or scope["method"] in route.methods)
    ):
        return route.app(scope, receive, send)
    return route.handle(scope, receive, send)


def index_routes(app: FastAPI) -> None:
    """Guard each top-level route with the prefixes of its paths, and dispatch without
    FastAPI's coroutines between the app and a route. Call it once every route is added:
    a route added later to an included router would not be in its guard."""
    for route in app.router.routes:
        matches: Matches = route.matches
        if isinstance(route, _IncludedRouter):
            matches = matching(route)
            route.handle = partial(select, route)  # type: ignore[method-assign,assignment]
        prefixes = prefixes_of(route)
        route.matches = matches if prefixes is None else _guarded(matches, prefixes)  # type: ignore[method-assign,assignment]
    app.router.middleware_stack = dispatcher(app.router)  # type: ignore[assignment]
