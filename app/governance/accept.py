"""Content negotiation: the API speaks JSON only, so an `Accept` that takes no JSON is a 406.

Only the API's own paths are negotiated (the docs serve HTML, `/metrics` the
Prometheus text format). No `Accept`, `*/*`, `application/*`, `application/json` and
`application/problem+json` are all served; a range with `q=0` counts as refused.
"""

from __future__ import annotations

from collections.abc import Awaitable

from starlette.types import ASGIApp, Receive, Scope, Send

from app.governance.asgi import send_problem
from app.governance.raw_headers import header
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


class AcceptMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        """The inner app's awaitable, or the refusal's (no frame of its own: `asgi.py`)."""
        if scope["type"] == "http" and scope["path"].startswith(API_PREFIXES):
            accept = header(scope, b"accept")
            if accept is not None and accept.strip() and not accepts_json(accept):
                document = problem_document(
                    type_uri=problem_type("not-acceptable"),
                    title="Not acceptable",
                    status=406,
                    detail=f"this API answers in application/json only, not {accept[:100]}",
                    instance=scope["path"],
                    correlation_id=scope.get("state", {}).get("correlation_id"),
                )
                return send_problem(send, 406, document)
        return self.app(scope, receive, send)
