"""The audit middleware: a write's row from its answer; a read prepares no row."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from app.governance import audit
from app.governance.audit import AuditMiddleware
from app.governance.uploads import BODY, Replay, take_body


def answering(status: int, headers: list[tuple[bytes, bytes]]) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"{}"})

    return app


async def serve(app: Any, method: str, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    rows: list[Any] = []

    async def append(_: object, event: Any) -> None:
        rows.append(event)

    monkeypatch.setattr(audit, "append", append)
    scope = {
        "type": "http",
        "method": method,
        "path": "/v1/invoices",
        "headers": [],
        "client": ("10.0.0.1", 5000),
        "app": SimpleNamespace(state=SimpleNamespace(process=SimpleNamespace(sessionmaker=None))),
    }

    async def receive() -> Message:
        return {"type": "http.request", "body": b'{"a": 1}', "more_body": False}

    async def send(_: Message) -> None:
        return None

    await AuditMiddleware(app)(scope, receive, send)
    return rows


async def test_a_write_is_audited_with_the_object_its_location_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    headers = [(b"content-type", b"application/json"), (b"Location", b"/v1/invoices/inv_9")]
    (row,) = await serve(answering(201, headers), "POST", monkeypatch)
    assert (row.object_id, row.outcome, row.status_code) == ("inv_9", "succeeded", 201)
    assert row.request_hash == hashlib.sha256(b'{"a": 1}').hexdigest()


async def test_a_denied_read_is_audited(monkeypatch: pytest.MonkeyPatch) -> None:
    (row,) = await serve(answering(403, []), "GET", monkeypatch)
    assert (row.outcome, row.object_id) == ("denied", None)


async def test_a_read_prepares_no_pending_row(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[object] = []
    pending = audit.PendingAudit

    def recording(*args: Any, **kwargs: Any) -> Any:
        made.append(args)
        return pending(*args, **kwargs)

    monkeypatch.setattr(audit, "PendingAudit", recording)
    assert await serve(answering(200, []), "GET", monkeypatch) == []
    assert made == []


@pytest.mark.parametrize(
    ("handed", "hashed"),
    [("taken", b'{"b": 2}'), ("received", b'{"b": 2}'), ("left", b"")],
)
async def test_a_body_received_whole_is_hashed_as_handed_over(
    monkeypatch: pytest.MonkeyPatch, handed: str, hashed: bytes
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert receive is replay  # no receive of the audit's own around it
        if handed == "taken":
            assert take_body(scope) == b'{"b": 2}'
            assert take_body(scope) is None  # handed over once
        elif handed == "received":
            assert (await receive())["body"] == b'{"b": 2}'
        await send({"type": "http.response.start", "status": 201, "headers": []})

    async def connection() -> Message:
        raise AssertionError("the body was buffered")

    replay = Replay(b'{"b": 2}', connection)
    rows: list[Any] = []

    async def append(_: object, event: Any) -> None:
        rows.append(event)

    async def send(_: Message) -> None:
        return None

    monkeypatch.setattr(audit, "append", append)
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/invoices",
        "headers": [],
        BODY: replay,
        "app": SimpleNamespace(state=SimpleNamespace(process=SimpleNamespace(sessionmaker=None))),
    }
    await AuditMiddleware(app)(scope, replay, send)
    (row,) = rows
    assert row.request_hash == hashlib.sha256(hashed).hexdigest()
