"""Routes that take a JSON body refuse any other media type (415).

(Deep nesting is refused for every route in `hygiene.py`.)
"""

from __future__ import annotations

from fastapi import Request

from app.governance.raw_headers import header
from app.governance.uploads import declares_body
from core.errors import LedgergateError


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
    if not declares_body(request.scope):
        return
    content_type = header(request.scope, b"content-type")
    if content_type is None or not _is_json(content_type):
        raise UnsupportedMediaType(
            f"send the body as application/json, not {content_type or 'an unlabelled body'}"
        )
