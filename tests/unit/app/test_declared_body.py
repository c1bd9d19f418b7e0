"""Whether a request declares a body, read from its raw headers as `Headers` reads them."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send

from app.governance import uploads
from app.governance.raw_headers import header
from app.governance.uploads import UploadMiddleware, declares_body

CASES = [
    [],
    [(b"content-length", b"0")],
    [(b"content-length", b"12")],
    [(b"content-length", b"0"), (b"content-length", b"12")],
    [(b"content-length", b"12"), (b"content-length", b"0")],
    [(b"transfer-encoding", b"chunked")],
    [(b"content-length", b"0"), (b"transfer-encoding", b"chunked")],
    [(b"content-type", b"application/json"), (b"content-length", b"")],
]


@pytest.mark.parametrize("raw", CASES)
def test_a_body_is_declared_as_the_headers_say(raw: list[tuple[bytes, bytes]]) -> None:
    headers = Headers(raw=raw)
    said = headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
    assert declares_body({"headers": raw}) is said


async def test_a_request_without_a_body_passes_without_its_headers_read_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[Any] = []

    def recording(scope: Scope, name: bytes) -> str | None:
        built.append(name)
        return header(scope, name)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        passed.append(scope["path"])

    passed: list[str] = []
    monkeypatch.setattr(uploads, "header", recording)
    middleware = UploadMiddleware(
        app, max_bytes=10, timeout_seconds=1, max_per_client=1, trusted_proxies=[]
    )
    scope = {"type": "http", "method": "GET", "path": "/v1/invoices", "headers": []}
    await middleware(scope, None, None)  # type: ignore[arg-type]
    assert (passed, built) == (["/v1/invoices"], [])


@pytest.mark.parametrize("raw", CASES)
@pytest.mark.parametrize("name", ["content-length", "transfer-encoding", "content-type"])
def test_a_header_is_read_from_the_raw_headers_as_headers_reads_it(
    raw: list[tuple[bytes, bytes]], name: str
) -> None:
    assert header({"headers": raw}, name.encode()) == Headers(raw=raw).get(name)
