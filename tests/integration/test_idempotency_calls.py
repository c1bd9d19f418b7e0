"""The key's Python work per request: what it reads of the request, counted so a regression
fails, and that it stores and replays what it did before."""

from datetime import timedelta

import pytest
from sqlalchemy import event
from starlette import datastructures
from starlette.requests import Request

from core.models.idempotency_key import IdempotencyKeyRow
from process_apis.idempotency import IdempotencyStore, Outcome, _path, run_idempotently
from tests.conftest import Gateway
from tests.integration.test_idempotency_closing import Answer, key_of, request


@pytest.mark.parametrize("path", ["/x", "/v1/invoices/a b/postings", "/a%3Fb", "/a\\b", "//x"])
def test_the_key_reads_the_path_the_url_would_give(path: str) -> None:
    scope = {**request().scope, "path": path, "headers": [(b"host", b"gateway.test")]}
    assert _path(Request(scope)) == Request(scope).url.path


async def test_a_keyed_request_builds_no_url(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[object] = []
    url_init = datastructures.URL.__init__

    def counted(self: datastructures.URL, *args: object, **kwargs: object) -> None:
        built.append(self)
        url_init(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(datastructures.URL, "__init__", counted)
    store = IdempotencyStore(gateway.sessionmaker, timedelta(hours=1))

    async def answer() -> Outcome:
        return Outcome(201, Answer())

    first = await run_idempotently(
        store, request(), client_id="c", key="k", body=Answer(), handler=answer
    )
    again = await run_idempotently(
        store, request(), client_id="c", key="k", body=Answer(), handler=answer
    )

    assert built == []
    key = await key_of(gateway)
    assert key is not None
    assert (key.method, key.path) == ("POST", "/x")
    assert (again.status_code, again.body) == (first.status_code, first.body)
    assert again.headers["Idempotent-Replayed"] == "true"


async def test_a_replay_loads_no_orm_object(gateway: Gateway) -> None:
    store = IdempotencyStore(gateway.sessionmaker, timedelta(hours=1))

    async def answer() -> Outcome:
        return Outcome(201, Answer(), {"Location": "/x/1"})

    first = await run_idempotently(
        store, request(), client_id="c", key="k", body=Answer(), handler=answer
    )
    loaded: list[object] = []

    def load(target: object, _context: object) -> None:
        loaded.append(target)

    event.listen(IdempotencyKeyRow, "load", load)
    try:
        again = await run_idempotently(
            store, request(), client_id="c", key="k", body=Answer(), handler=answer
        )
    finally:
        event.remove(IdempotencyKeyRow, "load", load)

    assert loaded == []
    assert (again.status_code, again.body) == (201, first.body)
    assert again.headers["location"] == "/x/1"
    assert again.headers["content-type"] == first.headers["content-type"]
