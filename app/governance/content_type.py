"""Routes that take a JSON body refuse any other media type (415) and deep nesting (400)."""

from __future__ import annotations

import re

from fastapi import Request

from core.errors import BadRequest, LedgergateError

MAX_JSON_DEPTH = 32
# Strings (skipped whole, escapes included) or the brackets that open and close nesting.
_TOKENS = re.compile(rb'"(?:\\.|[^"\\])*"|[\[\]{}]')


class JsonTooDeep(BadRequest):
    slug = "json-too-deep"
    title = "JSON nested too deeply"


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in `body` (0 for a scalar)."""
    depth = deepest = 0
    for token in _TOKENS.finditer(body):
        char = token.group()[:1]
        if char in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        elif char in (b"]", b"}"):
            depth -= 1
    return deepest


class UnsupportedMediaType(LedgergateError):
    status_code = 415
    slug = "unsupported-media-type"
    title = "Unsupported media type"


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


async def require_json_body(request: Request) -> None:
    """A dependency for write routers: a request that carries a body must say it is JSON."""
    if request.method not in {"POST", "PUT", "PATCH"}:
        return
    has_body = request.headers.get("content-length", "0") != "0" or (
        "transfer-encoding" in request.headers
    )
    content_type = request.headers.get("content-type")
    if has_body and (content_type is None or not _is_json(content_type)):
        raise UnsupportedMediaType(
            f"send the body as application/json, not {content_type or 'an unlabelled body'}"
        )
    if has_body and json_depth(await request.body()) > MAX_JSON_DEPTH:
        raise JsonTooDeep(f"the body nests arrays and objects deeper than {MAX_JSON_DEPTH} levels")
