"""Response headers every answer carries: security headers, and the ones a request stashed.

Handlers and dependencies cannot reach responses they do not build (a 429 raised
in a dependency, a replayed idempotent answer), so they stash headers in
`request.state.response_headers` and this middleware adds them at response start.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


class ResponseHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts
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

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        """The inner app's awaitable, `send` wrapped (no frame of its own: `asgi.py`)."""
        if scope["type"] != "http":
            return self.app(scope, receive, send)
        path = scope["path"]
        if path.startswith(CONSOLE_PATH):
            static = self.console
        elif path.startswith(DOCS_PATHS):
            static = self.docs
        else:
            static = self.api

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                present = {k.lower() for k, _ in headers}
                stashed = scope.get("state", {}).get("response_headers")
                added: Iterable[tuple[bytes, bytes]] = static
                if stashed:
                    added = with_stashed(static, stashed)
                message["headers"] = [*headers, *[h for h in added if h[0] not in present]]
            await send(message)

        return self.app(scope, receive, send_with_headers)


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
