"""The documented operations, read off the app's routes instead of its OpenAPI document.

The served OpenAPI document is built on first use and kept: 16 MiB in a worker that
serves no documentation. The answers that need only each operation's path template,
method, id and deprecation (a 405's `Allow`, `/versions`) read them here, from the
route contexts FastAPI builds anyway to match requests, in the document's order: the
routes included in the schema, each path once, with the methods of every route on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import RouteContext, iter_route_contexts


@dataclass(frozen=True)
class Operation:
    template: str
    method: str  # upper case
    operation_id: str
    deprecated: bool
    route: RouteContext


@dataclass(frozen=True)
class PathItem:
    """A path template of the document and the methods it serves."""

    template: str
    pattern: re.Pattern[str]
    methods: frozenset[str]


def operations(app: FastAPI) -> list[Operation]:
    """The app's documented operations in the document's order; computed once per app."""
    cached: list[Operation] | None = getattr(app.state, "operations", None)
    if cached is None:
        by_path: dict[str, list[Operation]] = {}
        for route in iter_route_contexts(app.routes):
            template = route.path_format
            if not (template and route.methods and getattr(route, "include_in_schema", False)):
                continue
            operation_id = route.operation_id or route.unique_id
            by_path.setdefault(template, []).extend(
                Operation(template, method, operation_id, bool(route.deprecated), route)
                for method in route.methods
            )
        cached = [operation for listed in by_path.values() for operation in listed]
        app.state.operations = cached
    return cached


def path_items(app: FastAPI) -> list[PathItem]:
    """The app's documented path templates with their methods; computed once per app."""
    cached: list[PathItem] | None = getattr(app.state, "path_items", None)
    if cached is None:
        methods: dict[str, set[str]] = {}
        for operation in operations(app):
            methods.setdefault(operation.template, set()).add(operation.method)
        cached = [
            PathItem(t, re.compile(re.sub(r"\{[^/]+\}", "[^/]+", t)), frozenset(m))
            for t, m in methods.items()
        ]
        app.state.path_items = cached
    return cached


def openapi_extra(operation: Operation) -> dict[str, Any]:
    """What the route adds to its operation in the document (`openapi_extra`)."""
    extra: dict[str, Any] | None = operation.route.openapi_extra
    return extra or {}
