"""Claiming an `Idempotency-Key` is one statement outside a transaction block (no `BEGIN`
and `COMMIT` round trips), and holds the key as soon as it returns."""

import asyncio
from datetime import timedelta

import asyncpg  # type: ignore[import-untyped]
import pytest

import core.db
from process_apis.idempotency import (
    IdempotencyKeyReused,
    IdempotencyStore,
    IdempotentRequestInFlight,
)
from tests.conftest import Gateway

CLAIM = {"client_id": "c", "key": "k", "method": "POST", "path": "/x", "request_hash": "h"}


async def test_a_first_claim_opens_no_transaction_block_and_holds_the_key_at_once(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(core.db, "PING_AFTER_IDLE_SECONDS", 3600.0)  # no ping's own BEGIN
    begun: list[str] = []
    start = asyncpg.transaction.Transaction.start
    this_test = asyncio.current_task()

    async def counted(self: asyncpg.transaction.Transaction) -> None:
        if asyncio.current_task() is this_test:  # not the gateway's background loops
            begun.append("BEGIN")
        await start(self)

    monkeypatch.setattr(asyncpg.transaction.Transaction, "start", counted)
    store = IdempotencyStore(gateway.sessionmaker, timedelta(hours=24))

    assert await store.claim(**CLAIM) is None
    claimed_in = list(begun)
    with pytest.raises(IdempotentRequestInFlight):  # held, as another request sees it
        await store.claim(**CLAIM)
    with pytest.raises(IdempotencyKeyReused):
        await store.claim(**{**CLAIM, "request_hash": "other"})

    assert claimed_in == []  # PostgreSQL: no transaction block (SQLite starts none here)
