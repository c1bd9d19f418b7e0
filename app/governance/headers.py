"""Response headers every answer carries: security headers, and the ones a request stashed.

Handlers and dependencies cannot reach responses they do not build (a 429 raised
in a dependency, a replayed idempotent answer), so they stash headers in
`request.state.response_headers` and the edge (`edge.py`) adds them at response start.
"""

from __future__ import annotations

from starlette.types import Scope

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}
API_CSP = "default-src 'none'; frame-ancestors 'none'"
DOCS_PATHS = ("/docs", "/redoc")
CACHE_CONTROL = (b"cache-control", b"no-store")
# The console's pages load their own script, style and images, nothing inline or foreign.
CONSOLE_PATH = "/console"
CONSOLE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def _encoded(headers: dict[str, str]) -> tuple[tuple[bytes, bytes], ...]:
    return tuple((k.encode(), v.encode()) for k, v in headers.items())


class ResponseHeaders:
    """The static headers of each kind of path, encoded once, and how an answer gets them."""

    def __init__(self, *, hsts: bool) -> None:
        self.hsts = hsts
        # The static headers of each kind of path, encoded once (names in lower case).
        self.console = _encoded(self._static(CONSOLE_CSP))
        self.docs = _encoded(self._static(None))
        self.api = _encoded(self._static(API_CSP))

    def _static(self, csp: str | None) -> dict[str, str]:
        static = dict(SECURITY_HEADERS)
        if csp is not None:
            static["content-security-policy"] = csp
        if self.hsts:
            static["strict-transport-security"] = "max-age=31536000; includeSubDomains"
        return static

    def static_for(self, path: str) -> tuple[tuple[bytes, bytes], ...]:
        if path.startswith(CONSOLE_PATH):
            return self.console
        if path.startswith(DOCS_PATHS):
            return self.docs
        return self.api


def with_response_headers(
    scope: Scope, static: tuple[tuple[bytes, bytes], ...], headers: list[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    """`headers` of a response starting, with the static ones and those the request
    stashed that it does not set itself (a stashed one replaces a static one in its place)."""
    present = {k.lower() for k, _ in headers}
    stashed = scope.get("state", {}).get("response_headers")
    added: list[tuple[bytes, bytes]] = list(static)
    if stashed:
        extra = dict(added)
        extra.update((k.lower().encode(), v.encode()) for k, v in stashed.items())
        added = list(extra.items())
    if b"cache-control" not in present:
        added = [h for h in added if h[0] != b"cache-control"]
        added.append(CACHE_CONTROL)
    return [*headers, *(h for h in added if h[0] not in present)]
