"""A query parameter the contract declares single-valued may appear once.

Starlette keeps every value of a repeated key and FastAPI reads the last one, so
`?until=a&until=b` would be served as if the client had sent `until=b` alone: a
request outside the contract answered as if it were inside. It is refused instead, a
422 `validation-error` naming the parameter, before the handler runs.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute


def _single_valued(route: APIRoute, openapi: dict[str, Any]) -> frozenset[str]:
    """The names of the route's query parameters whose schema is not an array."""
    names = set()
    for method in route.methods or ():
        operation = openapi.get("paths", {}).get(route.path_format, {}).get(method.lower(), {})
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query" and '"array"' not in json.dumps(parameter["schema"]):
                names.add(parameter["name"])
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
        state.single_valued_query = {}  # per route, read off the app's OpenAPI once
    cache: dict[str, frozenset[str]] = state.single_valued_query
    if route.unique_id not in cache:
        cache[route.unique_id] = _single_valued(route, request.app.openapi())
    single_valued = cache[route.unique_id]
    counts: dict[str, int] = {}
    for name, _ in items:
        counts[name] = counts.get(name, 0) + 1
    repeated = sorted(name for name, n in counts.items() if n > 1 and name in single_valued)
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
