"""The documented operations, read off the app's routes instead of its OpenAPI document.

The served OpenAPI document is built on first use and kept: 16 MiB in a worker that
serves no documentation. The answers that only need each operation's path template and
methods (a 405's `Allow`) read them here, from the routes FastAPI builds anyway
to match requests, as the document would list them: routes included in the schema.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts


@dataclass(frozen=True)
class PathItem:
    """A path template of the document and the methods it serves, upper case."""

    template: str
    pattern: re.Pattern[str]
    methods: frozenset[str]


def path_items(app: FastAPI) -> list[PathItem]:
    """The app's documented path templates, in route order; computed once per app."""
    cached: list[PathItem] | None = getattr(app.state, "path_items", None)
    if cached is None:
        methods: dict[str, set[str]] = {}
        for route in iter_route_contexts(app.routes):
            template = route.path_format
            if template and route.methods and getattr(route, "include_in_schema", False):
                methods.setdefault(template, set()).update(route.methods)
        cached = [
            PathItem(t, re.compile(re.sub(r"\{[^/]+\}", "[^/]+", t)), frozenset(m))
            for t, m in methods.items()
        ]
        app.state.path_items = cached
    return cached
