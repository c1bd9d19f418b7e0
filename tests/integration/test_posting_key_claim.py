"""A posting's `Idempotency-Key` claim commits with the prepare transaction (`Opening`): a
duplicate waits for it and sees the claim, a claim rolled back with a refusal still has its
answer stored, and a posting answered from the prepare alone costs one commit. The claim
goes with the invoice's lock (in its statement on PostgreSQL); a key already there is
judged as ever: in flight, or taken over from a request that died."""

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.ids import new_id
from core.models.base import utcnow
from core.models.idempotency_key import IdempotencyStatus
from core.models.invoice import InvoiceRow
from process_apis.idempotency import (
    KEYS,
    LOCK_TTL,
    IdempotencyStore,
    IdempotentRequestInFlight,
    Opening,
)
from process_apis.invoices.schemas import PostingCreate
from process_apis.runs.engine import digest
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


async def test_the_claim_goes_with_the_invoice_s_lock(gateway: Gateway) -> None:
    """On PostgreSQL in its statement (one round trip fewer); elsewhere just before it."""
    engine: AsyncEngine = gateway.app.state.process.sessionmaker.kw["bind"]
    invoice_id = await register(gateway)
    this_test = asyncio.current_task()
    seen: list[str] = []

    def statement(_connection: Any, _cursor: Any, sql: str, *_: Any) -> None:
        if asyncio.current_task() is this_test and "api_clients" not in sql:
            seen.append(sql)

    event.listen(engine.sync_engine, "before_cursor_execute", statement)
    try:
        assert (await post(gateway, invoice_id, "key-led")).status_code == 201
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", statement)

    claims = [i for i, sql in enumerate(seen) if "INSERT INTO idempotency_keys" in sql]
    locks = [i for i, sql in enumerate(seen) if "FROM invoices LEFT OUTER JOIN" in sql]
    together = engine.dialect.name == "postgresql"
    assert (claims, locks) == (([0], [0]) if together else ([0], [1])), seen


def claimed_before(invoice_id: str, key: str, *, locked_for: timedelta) -> dict[str, Any]:
    """The row of a posting's key claimed by a request still in flight, or one that died."""
    now = utcnow()
    return {
        "client_id": "test-platform",
        "key": key,
        "method": "POST",
        "path": f"/v1/invoices/{invoice_id}/postings",
        "request_hash": digest(PostingCreate().model_dump(mode="json")),
        "status": IdempotencyStatus.IN_FLIGHT,
        "locked_until": now + locked_for,
        "created_at": now,
        "expires_at": now + timedelta(days=1),
    }


@pytest.mark.parametrize(("locked_for", "status"), [(LOCK_TTL, 409), (-LOCK_TTL, 201)])
async def test_a_key_in_flight_is_refused_and_one_whose_request_died_is_taken_over(
    gateway: Gateway, locked_for: timedelta, status: int
) -> None:
    invoice_id = await register(gateway)
    claimed = claimed_before(invoice_id, "key-held", locked_for=locked_for)
    async with gateway.sessionmaker.begin() as session:
        await session.execute(insert(KEYS), claimed)

    response = await post(gateway, invoice_id, "key-held")

    assert response.status_code == status, response.text
    async with gateway.sessionmaker() as session:
        invoice = await session.get_one(InvoiceRow, invoice_id)
        key = (await session.execute(select(KEYS).where(KEYS.c.key == "key-held"))).one()
    if status == 409:
        assert invoice.status == "open"
        assert (key.status, key.locked_until) == ("in_flight", claimed["locked_until"])
    else:
        assert invoice.status == "posted"
        assert (key.status, key.response_status) == ("completed", 201)


@contextmanager
def round_trips_of_this_task(gateway: Gateway) -> Iterator[list[str]]:
    """The calling task's statements and transaction commands on the gateway's database
    (the edge's read of its client apart)."""
    engine: AsyncEngine = gateway.app.state.process.sessionmaker.kw["bind"]
    this_test = asyncio.current_task()
    seen: list[str] = []

    def statement(_connection: Any, _cursor: Any, sql: str, *_: Any) -> None:
        if asyncio.current_task() is this_test and "api_clients" not in sql:
            seen.append(" ".join(sql.split())[:60])

    def command(name: str) -> Any:
        def listener(*_: Any) -> None:
            if asyncio.current_task() is this_test:
                seen.append(name)

        return listener

    listeners = [("before_cursor_execute", statement)] + [
        (name, command(name.upper())) for name in ("begin", "commit", "rollback")
    ]
    for name, listener in listeners:
        event.listen(engine.sync_engine, name, listener)
    try:
        yield seen
    finally:
        for name, listener in listeners:
            event.remove(engine.sync_engine, name, listener)


# A key its posting's lead found there is judged in the lead's transaction: a replay is the
# lead's statement, the key's read and the duplicate's count in one transaction (8 round
# trips before: the lead's transaction rolled back, a new one claimed the key again).
@pytest.mark.parametrize(
    ("body", "status", "round_trips"), [({}, 201, 5), ({"posting_date": "2026-01-05"}, 422, 4)]
)
async def test_a_key_found_by_the_lead_is_judged_in_its_transaction(
    gateway: Gateway, body: dict[str, Any], status: int, round_trips: int
) -> None:
    invoice_id = await register(gateway)
    first = await post(gateway, invoice_id, "key-judged")
    assert first.status_code == 201, first.text

    with round_trips_of_this_task(gateway) as seen:
        again = await post(gateway, invoice_id, "key-judged", **body)

    assert again.status_code == status, again.text
    if status == 201:
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json() == first.json()
    else:
        assert again.json()["type"].endswith("idempotency-key-reused")
    assert len(seen) <= round_trips, seen


async def test_another_request_s_live_claim_is_refused_in_the_lead_s_transaction(
    gateway: Gateway,
) -> None:
    # 7 round trips when the key was claimed afresh to be found in flight (8 when it was
    # first read in the lead's transaction, its row perhaps the lead's own claim).
    invoice_id = await register(gateway)
    claimed = claimed_before(invoice_id, "key-live", locked_for=LOCK_TTL)
    async with gateway.sessionmaker.begin() as session:
        await session.execute(insert(KEYS), claimed)

    with round_trips_of_this_task(gateway) as seen:
        response = await post(gateway, invoice_id, "key-live")

    assert response.status_code == 409, response.text
    assert len(seen) <= 4, seen
    async with gateway.sessionmaker() as session:
        key = (await session.execute(select(KEYS).where(KEYS.c.key == "key-live"))).one()
    assert (key.status, key.locked_until) == ("in_flight", claimed["locked_until"])
