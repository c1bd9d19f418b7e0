"""The edge's checks of a route run as one step before FastAPI solves the rest of its dependencies.

Every route declares its governance as FastAPI dependencies: the app-wide check of
repeated query parameters, the write routers' JSON media type check and the route's
`requires(...)` scopes (which the OpenAPI document states as the operation's OAuth2
security requirement). FastAPI solves each as a node of the route's dependency tree,
with its own bookkeeping (parameters, cache key, kind of callable), about a tenth of the
instructions a governed read costs for the three checks and the OAuth2 scheme under
`requires`. `govern_routes` keeps every declaration as it is (the OpenAPI documents,
`route.dependant`) and gives each route a handler that runs the leading run of those
checks itself, in their declared order, then solves the other dependencies as before:
the same answers (a repeated parameter is a 422 before a missing token's 401, a
non-JSON body a 415 before it), raised at the same point of the request. A route whose
other parameters are simple has them solved by a plan made once (`solved_routes.py`).

The route's ASGI app (`governed_app`) is FastAPI's `request_response` written as one
coroutine: FastAPI's is three (its app, Starlette's exception wrapper, its inner app),
each resumed every time the request waits, some twenty times a posting.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from functools import partial

from fastapi import FastAPI, Request, Response
from fastapi._body_limit import wrap_app_with_body_limit
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import FastAPIError
from fastapi.routing import APIRoute, _effective_route_context_var
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from app.governance.content_type import require_json_body
from app.governance.handled import WatchedSend, answer_exception
from app.governance.query_parameters import refuse_repeated_query_parameters
from app.governance.solved_routes import plan_handler
from core.auth import authorize, current_principal

Check = Callable[[Request], Awaitable[object]]
Handler = Callable[[Request], Awaitable[Response]]

# Dependencies with no value for the endpoint, that only refuse a request.
REFUSALS: dict[Callable[..., object], Check] = {
    refuse_repeated_query_parameters: refuse_repeated_query_parameters,
    require_json_body: require_json_body,
}


def edge_check(dependency: Dependant) -> Check | None:
    """The step that does what `dependency` does, if it is one of the edge's checks whose
    value no endpoint takes (declared in `dependencies=[...]`: it has no name)."""
    if dependency.name is not None or dependency.call is None:
        return None
    if dependency.call is current_principal:
        scopes = list(
            dict.fromkeys(
                [*(dependency.parent_oauth_scopes or []), *(dependency.own_oauth_scopes or [])]
            )
        )
        return partial(authorize, scopes=scopes)
    return REFUSALS.get(dependency.call)


def split(dependant: Dependant) -> tuple[list[Check], Dependant]:
    """The leading edge checks of `dependant`, and the dependant that is left to solve."""
    checks: list[Check] = []
    for dependency in dependant.dependencies:
        check = edge_check(dependency)
        if check is None:
            break
        checks.append(check)
    rest = dataclasses.replace(dependant, dependencies=dependant.dependencies[len(checks) :])
    return checks, rest


def governed_app(checks: list[Check], handler: Handler) -> ASGIApp:
    """FastAPI's `request_response(handler)` with `checks` run first, as one coroutine:
    the same exit stacks in the scope, the same exception handling, the same answer."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        sender = WatchedSend(send)
        try:
            awaited = False
            async with AsyncExitStack() as request_stack:
                scope["fastapi_inner_astack"] = request_stack
                async with AsyncExitStack() as function_stack:
                    scope["fastapi_function_astack"] = function_stack
                    for check in checks:
                        await check(request)
                    response = await handler(request)
                await response(scope, receive, sender)
                awaited = True
            if not awaited:  # a dependency's exit swallowed the exception
                raise FastAPIError("Response not awaited: a dependency with yield swallowed it")
        except Exception as exc:
            await answer_exception(request, exc, sender.started, scope, receive, sender)

    return app


def _route_likes(routes: list[BaseRoute]) -> Iterator[tuple[APIRoute, object]]:
    """Every FastAPI route of the app with the object serving it: the route itself at the
    top level, the route's context of inclusion for an included router's route."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route, route
            continue
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is None:
            continue
        for context in contexts():
            original = getattr(context, "original_route", None)
            if isinstance(original, APIRoute) and getattr(context, "starlette_route", 1) is None:
                yield original, context


def govern_routes(app: FastAPI) -> int:
    """Serve every route with `governed_app`, its leading edge checks run by the app itself.
    Call it once every route is added. Returns how many routes it changed."""
    changed = 0
    for original, serving in _route_likes(app.router.routes):
        dependant: Dependant = serving.dependant  # type: ignore[attr-defined]
        checks, rest = split(dependant)
        # The route builds its handler from the dependant of what serves it (itself, or
        # its context of inclusion, found as FastAPI finds it while including a router).
        serving.dependant = rest  # type: ignore[attr-defined]
        token = _effective_route_context_var.set(None if serving is original else serving)
        try:
            fastapi_handler = original.get_route_handler()
            planned = plan_handler(serving, rest, fastapi_handler)  # type: ignore[arg-type]
            handler: Handler = planned or fastapi_handler
        finally:
            _effective_route_context_var.reset(token)
            serving.dependant = dependant  # type: ignore[attr-defined]
        serving.app = wrap_app_with_body_limit(  # type: ignore[attr-defined]
            governed_app(checks, handler),
            serving.max_body_size,  # type: ignore[attr-defined]
        )
        changed += 1
    return changed
