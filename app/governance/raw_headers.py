"""A request header read from the scope's raw headers, as `Headers.get` reads it, without
building `Headers` (its `get` and `__getitem__` are two Python calls and three C calls a
lookup, after the object itself)."""

from __future__ import annotations

from starlette.types import Scope


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of the header `name` (lowercase, as ASGI servers pass names), or None."""
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None
