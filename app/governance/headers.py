"""Response headers every answer carries: security headers, the ones a request stashed, and a
replaced operation's deprecation headers.

Handlers and dependencies cannot reach responses they do not build (a 429 raised
in a dependency, a replayed idempotent answer), so they stash headers in
`request.state.response_headers`; `ResponseHeaders` adds them at response start, in the
one `send` wrapper of the correlation middleware (`correlation.py`): one coroutine per
message, not one per kind of header.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import Scope

from app.governance.versioning import VersionRegistry, deprecation_headers

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
    """The headers an answer leaves with: its own, then the static ones of its kind of path
    and the stashed ones it does not set itself, then its operation's deprecation headers."""

    def __init__(self, *, hsts: bool, registry: VersionRegistry | None = None) -> None:
        self.hsts = hsts
        self.registry = registry
        # The static headers of each kind of path, encoded once (names in lower case), with
        # `Cache-Control: no-store` last, for a response that sets none.
        self.console = _encoded(self._static(CONSOLE_CSP))
        self.docs = _encoded(self._static(None))
        self.api = _encoded(self._static(API_CSP))

    def _static(self, csp: str | None) -> dict[str, str]:
        static = dict(SECURITY_HEADERS)
        if csp is not None:
            static["content-security-policy"] = csp
        if self.hsts:
            static["strict-transport-security"] = "max-age=31536000; includeSubDomains"
        static[CACHE_CONTROL[0].decode()] = CACHE_CONTROL[1].decode()
        return static

    def static_of(self, path: str) -> tuple[tuple[bytes, bytes], ...]:
        if path.startswith(CONSOLE_PATH):
            return self.console
        if path.startswith(DOCS_PATHS):
            return self.docs
        return self.api

    def added(self, scope: Scope, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        """`headers` (an answer's own) with the others after them."""
        present = {k.lower() for k, _ in headers}
        static = self.static_of(scope["path"])
        stashed = scope.get("state", {}).get("response_headers")
        added: Iterable[tuple[bytes, bytes]] = with_stashed(static, stashed) if stashed else static
        headers = [*headers, *[h for h in added if h[0] not in present]]
        if self.registry is not None:
            headers.extend(deprecation_headers(self.registry, scope))
        return headers


def with_stashed(
    static: tuple[tuple[bytes, bytes], ...], stashed: dict[str, str]
) -> Iterable[tuple[bytes, bytes]]:
    """The static headers with the stashed ones: a stashed header replaces a static one of
    the same name in its place, the others follow; `Cache-Control: no-store` stays last."""
    merged = dict(static)
    for name, value in stashed.items():
        merged[name.lower().encode()] = value.encode()
    del merged[CACHE_CONTROL[0]]  # a stashed one too: it moves last, as `no-store`
    merged[CACHE_CONTROL[0]] = CACHE_CONTROL[1]
    return merged.items()
