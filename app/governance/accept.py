"""Content negotiation: the API speaks JSON only, so an `Accept` that takes no JSON is a 406.

Only the API's own paths are negotiated (the docs serve HTML, `/metrics` the
Prometheus text format). No `Accept`, `*/*`, `application/*`, `application/json` and
`application/problem+json` are all served; a range with `q=0` counts as refused.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import Scope, Send

from app.governance.asgi import send_problem
from core.errors import problem_type
from core.problems import problem_document

API_PREFIXES = ("/v1/", "/v2/", "/partner/", "/ops/", "/system/", "/oauth/", "/webhooks/")
SERVED = frozenset({"*/*", "application/*", "application/json", "application/problem+json"})


def accepts_json(accept: str) -> bool:
    for media_range in accept.split(","):
        media_type, *params = (part.strip() for part in media_range.split(";"))
        if media_type.lower() in SERVED and not any(
            p.replace(" ", "").lower() in {"q=0", "q=0.0", "q=0.00", "q=0.000"} for p in params
        ):
            return True
    return False


async def refuse_unacceptable(scope: Scope, send: Send) -> bool:
    """Answer a 406 to a request on the API's paths whose `Accept` takes no JSON; whether
    it did."""
    if not scope["path"].startswith(API_PREFIXES):
        return False
    accept = Headers(scope=scope).get("accept")
    if accept is None or not accept.strip() or accepts_json(accept):
        return False
    document = problem_document(
        type_uri=problem_type("not-acceptable"),
        title="Not acceptable",
        status=406,
        detail=f"this API answers in application/json only, not {accept[:100]}",
        instance=scope["path"],
        correlation_id=scope.get("state", {}).get("correlation_id"),
    )
    await send_problem(send, 406, document)
    return True
