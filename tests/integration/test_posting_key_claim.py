"""A posting's `Idempotency-Key` claim commits with the prepare transaction (`Opening`): a
duplicate waits for it and sees the claim, a claim rolled back with a refusal still has its
answer stored, and a posting answered from the prepare alone costs one commit."""

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from core.ids import new_id
from process_apis.idempotency import IdempotencyStore, IdempotentRequestInFlight, Opening
from tests.conftest import Gateway
from tests.integration.test_invoice_posting import post, register

CLAIM = {"client_id": "c", "key": "k", "method": "POST", "path": "/x", "request_hash": "h"}


@contextmanager
def commits_of_this_task(gateway: Gateway) -> Iterator[list[str]]:
    """The gateway's `COMMIT`s in the calling task (not in its background loops)."""
    engine: AsyncEngine = gateway.app.state.process.sessionmaker.kw["bind"]
    this_test = asyncio.current_task()
    seen: list[str] = []

    def commit(_connection: object) -> None:
        if asyncio.current_task() is this_test:
            seen.append("COMMIT")

    event.listen(engine.sync_engine, "commit", commit)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "commit", commit)


@pytest.mark.parametrize("ends", ["commit", "discard"])
async def test_a_duplicate_waits_for_an_uncommitted_claim_and_sees_how_it_ended(
    gateway: Gateway, ends: str
) -> None:
    store = IdempotencyStore(gateway.sessionmaker, timedelta(hours=1))
    opening = Opening()
    assert await store.claim(**CLAIM, opening=opening) is None

    duplicate = asyncio.create_task(store.claim(**CLAIM))
    await asyncio.sleep(0.3)
    assert not duplicate.done()  # waiting on the unique index, not answered yet
    if ends == "commit":
        await opening.commit()
        with pytest.raises(IdempotentRequestInFlight):
            await duplicate
    else:
        await opening.discard()
        assert await duplicate is None  # the key was never used: the duplicate claims it


async def test_a_refusal_that_rolled_back_the_claim_is_still_stored_and_replayed(
    gateway: Gateway,
) -> None:
    missing = new_id("invoice")
    first = await post(gateway, missing, "key-404")
    second = await post(gateway, missing, "key-404")

    assert first.status_code == second.status_code == 404
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"


async def test_a_posting_answered_by_the_prepare_alone_costs_one_commit(gateway: Gateway) -> None:
    invoice_id = await register(gateway)
    assert (await post(gateway, invoice_id, "key-1")).status_code == 201

    with commits_of_this_task(gateway) as commits:
        again = await post(gateway, invoice_id, "key-2")

    assert again.status_code == 200
    assert again.json()["already_posted"] is True
    assert commits == ["COMMIT"]  # the claim, the answer and the audit row together
    replayed = await post(gateway, invoice_id, "key-2")
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.json() == again.json()
