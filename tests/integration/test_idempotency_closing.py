"""A handler's last transaction handed over to its `Idempotency-Key` completion: the write
and its stored answer commit together, and what was handed over is committed in every case."""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date, timedelta

import pytest
from pydantic import BaseModel
from sqlalchemy import event, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request

from core.models.duplicate_count import DuplicateCountRow
from core.models.idempotency_key import IdempotencyKeyRow, IdempotencyStatus
from process_apis.idempotency import Closing, IdempotencyStore, Outcome, run_idempotently
from tests.conftest import Gateway


class Answer(BaseModel):
    ok: bool = True


def request() -> Request:
    return Request(
        {
            "type": "http",
            "method": "POST",
            "scheme": "http",
            "server": ("gateway.test", 80),
            "path": "/x",
            "query_string": b"",
            "headers": [],
            "state": {},
        }
    )


def handing_over(
    gateway: Gateway, closing: Closing, then: Callable[[], Awaitable[Outcome]]
) -> Callable[[], Awaitable[Outcome]]:
    """A handler that writes a row (a stand-in for a posting's record) by SQL Core, hands its
    connection's transaction over uncommitted, then answers with `then`."""

    async def handler() -> Outcome:
        engine: AsyncEngine = gateway.sessionmaker.kw["bind"]
        connection = await engine.connect()
        await connection.execute(
            insert(DuplicateCountRow).values(day=date.today(), source="closing-test", count=1)
        )
        closing.hand_over(connection)
        return await then()

    return handler


async def written(gateway: Gateway) -> bool:
    async with gateway.sessionmaker() as session:
        row = await session.scalar(
            select(DuplicateCountRow).where(DuplicateCountRow.source == "closing-test")
        )
    return row is not None


async def key_of(gateway: Gateway) -> IdempotencyKeyRow | None:
    async with gateway.sessionmaker() as session:
        return await session.get(IdempotencyKeyRow, ("c", "k"))


async def test_the_write_and_its_stored_answer_commit_together(gateway: Gateway) -> None:
    engine: AsyncEngine = gateway.sessionmaker.kw["bind"]
    store = IdempotencyStore(gateway.sessionmaker, timedelta(hours=1))
    closing = Closing()
    commits: list[str] = []
    this_test = asyncio.current_task()

    def commit(_connection: object) -> None:
        if asyncio.current_task() is this_test:  # not the gateway's background loops
            commits.append("COMMIT")

    async def answer() -> Outcome:
        event.listen(engine.sync_engine, "commit", commit)
        return Outcome(201, Answer())

    response = await run_idempotently(
        store,
        request(),
        client_id="c",
        key="k",
        body=None,
        handler=handing_over(gateway, closing, answer),
        closing=closing,
    )

    assert response.status_code == 201
    event.remove(engine.sync_engine, "commit", commit)
    assert commits == ["COMMIT"]  # one commit for the write and the stored answer
    assert await written(gateway)
    key = await key_of(gateway)
    assert key is not None
    assert key.status == IdempotencyStatus.COMPLETED


async def test_what_was_handed_over_is_committed_when_the_key_is_released(
    gateway: Gateway,
) -> None:
    store = IdempotencyStore(gateway.sessionmaker, timedelta(hours=1))
    closing = Closing()

    async def fail() -> Outcome:
        raise RuntimeError("after the write")

    with pytest.raises(RuntimeError):
        await run_idempotently(
            store,
            request(),
            client_id="c",
            key="k",
            body=None,
            handler=handing_over(gateway, closing, fail),
            closing=closing,
        )

    assert await written(gateway)
    assert await key_of(gateway) is None  # released: a retry runs again


async def test_a_request_without_a_key_commits_what_was_handed_over(gateway: Gateway) -> None:
    store = IdempotencyStore(gateway.sessionmaker, timedelta(hours=1))
    closing = Closing()

    async def answer() -> Outcome:
        return Outcome(201, Answer())

    response = await run_idempotently(
        store,
        request(),
        client_id="c",
        key=None,
        body=None,
        handler=handing_over(gateway, closing, answer),
        closing=closing,
    )

    assert response.status_code == 201
    assert await written(gateway)
