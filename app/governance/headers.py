"""Response headers every answer carries: security headers, and the ones a request stashed.

Handlers and dependencies cannot reach responses they do not build (a 429 raised
in a dependency, a replayed idempotent answer), so they stash headers in
`request.state.response_headers` and this middleware adds them at response start.
"""

from __future__ import annotations

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
# The console's pages load their own script, style and images, nothing inline or foreign.
CONSOLE_PATH = "/console"
CONSOLE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


class ResponseHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = dict(SECURITY_HEADERS)
        if scope["path"].startswith(CONSOLE_PATH):
            static["content-security-policy"] = CONSOLE_CSP
        elif not scope["path"].startswith(DOCS_PATHS):
            static["content-security-policy"] = API_CSP
        if self.hsts:
            static["strict-transport-security"] = "max-age=31536000; includeSubDomains"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                stashed = scope.get("state", {}).get("response_headers") or {}
                present = {k.decode("latin-1").lower() for k, _ in message.get("headers", [])}
                extra = {**static, **{k.lower(): v for k, v in stashed.items()}}
                if "cache-control" not in present:
                    extra["cache-control"] = "no-store"
                message["headers"] = [
                    *message.get("headers", []),
                    *[(k.encode(), v.encode()) for k, v in extra.items() if k not in present],
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)
