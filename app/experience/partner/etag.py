"""Strong entity tags on partner reads, and `304 Not Modified` for `If-None-Match`.

The tag is a digest of the response body exactly as sent, so it changes whenever
any byte of the representation does (a statement's status, a total, a version) and
two equal bodies share it. `If-None-Match` uses the weak comparison (RFC 9110
13.1.2): a `W/` prefix on the client's tag is ignored, and `*` matches any.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import Header, Response
from pydantic import BaseModel

IfNoneMatch = Annotated[
    str | None,
    Header(
        alias="If-None-Match",
        max_length=2000,
        description="An `ETag` of an earlier answer: `304 Not Modified` if it still matches.",
    ),
]

ETAG_HEADER = {
    "ETag": {
        "description": "Strong entity tag of this representation.",
        "schema": {"type": "string"},
    }
}


def etag_responses(model: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """The `200` with its `ETag` header and the `304` of a conditional read."""
    return {
        200: {"model": model, "headers": ETAG_HEADER},
        304: {
            "description": "Not modified: the `If-None-Match` tag is still current.",
            "headers": ETAG_HEADER,
        },
    }


def _matches(tag: str, if_none_match: str) -> bool:
    candidates = [part.strip() for part in if_none_match.split(",")]
    return "*" in candidates or tag in (c.removeprefix("W/") for c in candidates)


def conditional(body: BaseModel, if_none_match: str | None) -> Response:
    """`body` with its strong ETag, or an empty `304` when the client's tag matches."""
    content = body.model_dump_json().encode()
    tag = '"' + hashlib.sha256(content).hexdigest()[:32] + '"'
    # Private (one partner's data), and revalidated on every use rather than never stored.
    headers = {"ETag": tag, "Cache-Control": "private, no-cache"}
    if if_none_match is not None and _matches(tag, if_none_match):
        return Response(status_code=304, headers=headers)
    return Response(content, media_type="application/json", headers=headers)
