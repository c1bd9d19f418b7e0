"""A query parameter the contract declares single-valued may appear once.

Starlette keeps every value of a repeated key and FastAPI reads the last one, so
`?until=a&until=b` would be served as if the client had sent `until=b` alone: a
request outside the contract answered as if it were inside. It is refused instead, a
422 `validation-error` naming the parameter, before the handler runs.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request, params
from fastapi.dependencies.utils import get_flat_params
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import TypeAdapter


def single_valued(route: APIRoute) -> frozenset[str]:
    """The names of the route's query parameters whose schema is not an array.

    Read off the route's parameters as the OpenAPI document states them (a model of
    query parameters stands for its fields), without building the document.
    """
    names = set()
    for field in get_flat_params(route.dependant):
        if isinstance(field.field_info, params.Query):
            schema = TypeAdapter(field.field_info.annotation or Any).json_schema()
            if '"array"' not in json.dumps(schema):
                names.add(field.alias)
    return frozenset(names)


async def refuse_repeated_query_parameters(request: Request) -> None:
    """An app-wide dependency: costs one substring test unless a key may repeat."""
    if b"&" not in request.scope.get("query_string", b""):
        return
    items = request.query_params.multi_items()
    if len(items) == len(request.query_params):
        return
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    state = request.app.state
    if not hasattr(state, "single_valued_query"):
        state.single_valued_query = {}  # per route, read off its parameters once
    cache: dict[str, frozenset[str]] = state.single_valued_query
    if route.unique_id not in cache:
        cache[route.unique_id] = single_valued(route)
    once = cache[route.unique_id]
    counts: dict[str, int] = {}
    for name, _ in items:
        counts[name] = counts.get(name, 0) + 1
    repeated = sorted(name for name, n in counts.items() if n > 1 and name in once)
    if repeated:
        raise RequestValidationError(
            [
                {
                    "type": "repeated",
                    "loc": ("query", name),
                    "msg": f"`{name}` takes one value; it was sent {counts[name]} times",
                }
                for name in repeated
            ]
        )
