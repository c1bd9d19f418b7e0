"""An ASGI request made by hand, without a client's work around it."""

from __future__ import annotations

from starlette.types import Message, Receive, Scope, Send


def asgi_get(
    path: str, headers: list[tuple[bytes, bytes]] | None = None
) -> tuple[Scope, Receive, Send, list[Message]]:
    """A GET of `path`: its scope, its `receive` (an empty body), and a `send` that
    keeps what the app sends in the list returned last."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers or [],
        "client": ("127.0.0.1", 1),
        "server": ("test", 80),
    }
    return scope, receive, send, sent
