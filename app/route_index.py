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
An included router's match is found once (`IncludedMatches`), not again by its `handle`.

Which routes a path can reach is found once per path head (`Reachable`: the path up to
its third `/`), for the app's routes and for each included router's: a posting passed
over some twenty-five top-level routes and a dozen of its router's, each a call or
ten, to find its own; it now tries only those whose literal prefixes agree with its head.
Anything but an HTTP request matching a FastAPI route (a 404, a 405, a mount, a
lifespan) takes FastAPI's way, which matches again from the start.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from functools import partial
from typing import Generic, TypeVar

from fastapi import FastAPI
from fastapi.routing import (
    _FASTAPI_EFFECTIVE_ROUTE_CONTEXT_KEY,
    _FASTAPI_INCLUDED_ROUTER_KEY,
    _SCOPE_MISSING,
    APIRoute,
    APIRouter,
    _apply_router_form_limits,
    _EffectiveRouteContext,
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
MATCHED = "ledgergate.matched"  # an included router's match, from `IncludedMatches` to `select`
HEAD = re.compile(r"(?:/[^/]*){0,2}/?")  # a path up to its third `/`: `/v1/invoices/`
HEADS_KEPT = 1024  # the heads whose routes are kept: a client's made-up paths stay bounded
Item = TypeVar("Item")
Candidate = _EffectiveRouteContext | _IncludedRouter
PLAIN = re.compile("").flags  # a path regex compiled as Starlette compiles it


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


def route_path(scope: Scope) -> str:
    """The path routes match: the path itself unless the app is mounted under a root path
    (Starlette's `get_route_path`, one call less)."""
    return get_route_path(scope) if scope.get("root_path") else scope["path"]


def may_reach(prefixes: tuple[str, ...] | None, head: str) -> bool:
    """Whether a path starting with `head` (and no longer `/` after it) can start with
    one of `prefixes` (None: prefixes nobody can tell, so it can)."""
    if prefixes is None:
        return True
    return any(head.startswith(prefix) or prefix.startswith(head) for prefix in prefixes)


class Reachable(Generic[Item]):
    """Items (routes, in their order) with the literal prefixes of their paths, and which of
    them a path can reach, found once per path head: a prefix no longer than the head
    starts the path exactly when it starts the head, and a longer one only if the head
    starts it. The items found may still not match (the routes' own matching decides); the
    items left out cannot."""

    def __init__(self, items: Iterable[tuple[Item, tuple[str, ...] | None]]) -> None:
        self.items = tuple(items)
        self.by_head: dict[str, tuple[Item, ...]] = {}

    def of(self, path: str) -> tuple[Item, ...]:
        head = HEAD.match(path).group()  # type: ignore[union-attr]  # matches any string
        found = self.by_head.get(head)
        if found is None:
            found = tuple(item for item, prefixes in self.items if may_reach(prefixes, head))
            if len(self.by_head) < HEADS_KEPT:
                self.by_head[head] = found
        return found


def _guarded(matches: Matches, prefixes: tuple[str, ...]) -> Matches:
    def guarded(scope: Scope) -> tuple[Match, Scope]:
        if route_path(scope).startswith(prefixes):
            return matches(scope)
        return Match.NONE, {}

    return guarded


def path_pattern(candidate: Candidate) -> str:
    """The regex a candidate of an included router's match matches paths with, without its
    `^` and its groups' names; "" (any path) for one whose paths it cannot tell."""
    if isinstance(candidate, _IncludedRouter) or not isinstance(candidate.original_route, APIRoute):
        return ""
    regex = candidate.path_regex
    pattern = getattr(regex, "pattern", None)
    if getattr(regex, "flags", None) != PLAIN or not isinstance(pattern, str):
        return ""
    if not pattern.startswith("^") or "(?P=" in pattern:
        return ""
    return re.sub(r"\(\?P<\w+>", "(?:", pattern[1:])


def first_of(candidates: Sequence[Candidate]) -> re.Pattern[str]:
    """The regex whose group `c<i>` matches when candidate i is the first that may match."""
    try:
        return re.compile(
            "|".join(f"(?P<c{i}>{path_pattern(c)})" for i, c in enumerate(candidates))
        )
    except re.error:  # a pattern that cannot be an alternative: try every candidate
        return re.compile("(?P<c0>)" if candidates else "(?!)")


class _Candidates:
    """All FastAPI's `_IncludedRouter._match` reads of its router: its candidates, here
    from the first whose path regex matches the path on."""

    def __init__(self, candidates: Sequence[Candidate]) -> None:
        self.candidates = candidates

    def effective_candidates(self) -> Sequence[Candidate]:
        return self.candidates


class FirstCandidate:
    """An included router's candidates, and from which of them a path can match: one regex,
    each candidate's path regex an alternative in their order, finds the first whose
    regex matches the path. Those before it would answer "no match"; the match among the
    rest is FastAPI's (the first may answer another method: `_match` goes on)."""

    def __init__(self, candidates: Sequence[Candidate]) -> None:
        self.candidates = candidates
        self.first = first_of(candidates)
        self.from_: dict[str | None, _Candidates] = {
            f"c{i}": _Candidates(candidates[i:]) for i in range(len(candidates))
        }
        self.from_[None] = _Candidates(())

    def of(self, path: str) -> _Candidates:
        found = self.first.match(path)
        return self.from_[found.lastgroup if found else None]


class IncludedMatches:
    """`included.matches` (its router's `matches`, `_match` with the included router in
    the scope) from the first candidate whose path regex matches, keeping what it found
    in the scope for `select`, which would otherwise match the request again from the start."""

    def __init__(self, included: _IncludedRouter) -> None:
        self.included = included
        self.first = FirstCandidate(())

    def __call__(self, scope: Scope) -> tuple[Match, Scope]:
        included = self.included
        fastapi_scope = _get_fastapi_scope(scope)
        previous = fastapi_scope.get(_FASTAPI_INCLUDED_ROUTER_KEY, _SCOPE_MISSING)
        fastapi_scope[_FASTAPI_INCLUDED_ROUTER_KEY] = included
        try:
            found = _IncludedRouter._match(self.candidates_for(route_path(scope)), scope)  # type: ignore[arg-type]
        finally:
            _restore_fastapi_scope_key(scope, _FASTAPI_INCLUDED_ROUTER_KEY, previous)
        if found[0] != Match.NONE:
            scope[MATCHED] = (included, found)
        return found[0], {}

    def candidates_for(self, path: str) -> _Candidates:
        """The candidates to try for `path`, found again when the router's have changed."""
        candidates = self.included.effective_candidates()
        if candidates is not self.first.candidates:
            self.first = FirstCandidate(candidates)
        return self.first.of(path)


def dispatcher(router: APIRouter, routes: Iterable[tuple[BaseRoute, Matches]]) -> ASGIApp:
    """The router's app (`APIRouter.app`) for an HTTP request whose route matches in full,
    trying only the routes its path can reach; `routes` are the router's, each with its
    own matching (without the guard). Routes added later send every request FastAPI's way."""
    routers_way = router.middleware_stack
    indexed = tuple(routes)
    reachable = Reachable(((route, matches), prefixes_of(route)) for route, matches in indexed)

    def dispatch(scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        if scope["type"] != "http" or len(router.routes) != len(indexed):
            return routers_way(scope, receive, send)
        _apply_router_form_limits(scope, router.form_limits)
        if "router" not in scope:
            scope["router"] = router
        for route, matches in reachable.of(route_path(scope)):
            match, child_scope = matches(scope)
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
    routes: list[tuple[BaseRoute, Matches]] = []
    for route in app.router.routes:
        matches: Matches = route.matches
        if isinstance(route, _IncludedRouter):
            matches = IncludedMatches(route)
            route.handle = partial(select, route)  # type: ignore[method-assign,assignment]
        routes.append((route, matches))
        prefixes = prefixes_of(route)
        route.matches = matches if prefixes is None else _guarded(matches, prefixes)  # type: ignore[method-assign,assignment]
    app.router.middleware_stack = dispatcher(app.router, routes)  # type: ignore[assignment]
