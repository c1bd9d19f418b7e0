"""What one synchronous posting costs the database, counted so a regression fails.

A registered invoice of a customer the ERP already holds, posted with the company's tax
groups cached (the steady state of a billing run): the statements and commits from the
edge to the answer, audit row included. The ERP budget's own statements follow the ERP
requests, not the posting (in production they go to Redis), and the client's status is
re-read whenever the edge's cache of it expires: both are counted apart.
"""

import asyncio
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Session

from core.models.base import Base
from core.settings import BackendSettings
from tests.conftest import GatewayFactory
from tests.integration.test_invoice_posting import post, register
from tests.support.invoices import invoice_body

# One posting, in statements and commits (34 and 7 before the engine, the idempotency
# store and the posting spoke SQL Core, and the audit row joined the stored answer; 25
# before the record step wrote the invoice and the run without reading them again, and
# the prepare read the invoice with its lines, the customer with its latest sync and the
# legal entity with its tax codes, each in one statement; 6 commits before the first
# step's start committed the prepare transaction with it; 18 before the legal entity with
# its periods and tax codes came in one statement; 4 commits before the key's claim joined
# the prepare transaction; 17 before the prepare read the latest run and the customer in
# one statement; on PostgreSQL 17, its `SET LOCAL` counted, before each transaction's
# writes on the step path went as one statement; on PostgreSQL 12, before the closing's
# writes went as one statement and the key's completion with the audit row as another; 8
# and 16 before the legal entity was read in the statement that reads the customer; on
# PostgreSQL 7 before the closing's writes went in the key's completion's statement; on
# PostgreSQL 6 before the key's claim went in the statement that locks the invoice; 5 and
# 15, and 3 commits, before a first attempt created, posted and read its document in one
# ERP call, with no transaction between its create and its post):
# lower these when a change makes it cheaper.
STATEMENTS = {"postgresql": 4, "sqlite": 14}
COMMITS = 2
# 2 before the audit row joined the stored answer by SQL Core, 1 before the prepare wrote
# the invoice and the run by SQL Core: no unit of work runs on a posting's path.
FLUSHES = 0
# Transactions run through an ORM session: the prepare's alone; the step path and the
# closing (which the idempotency store's completion joins) speak SQL Core on a connection
# (3 before: the middle transaction was a session's too; 2 before the closing's was not).
ORM_TRANSACTIONS = 1
# The closing transaction (the key's completion is its last statement, folded with the
# closing's writes and the audit row's insert on PostgreSQL) runs in no ORM session, so no
# unit of work is flushed there, not even an empty one by its commit.
COMPLETION = "UPDATE idempotency_keys"
# ORM objects made by their constructor (each set attribute a call through the ORM's
# instrumentation): none; the audit row is its columns, inserted with the key's completion
# (2 before it was an object), the new run is built as a flush reads it (1 before).
ROWS_MADE = 0
# A step's start between two ERP calls commits asynchronously, set within its statement; a
# first attempt makes one ERP call for its document, so it has no such transaction.
RELAXED = "set_config('synchronous_commit', 'off', true)"
APART = ("erp_budget_", "FROM api_clients")


@contextmanager
def counting(engine: AsyncEngine) -> Iterator[tuple[Counter[str], list[str]]]:
    """The posting's statements by first word (`SELECT`, ...) and its `COMMIT`s on `engine`;
    what `APART` names under `apart`, a commit of a transaction that touched it too; and the
    posting's statements themselves, to show when the count fails. Only the counting task's
    own work counts: the gateway's background loops share the engine and the event loop."""
    this_test = asyncio.current_task()
    seen: Counter[str] = Counter()
    statements: list[str] = []
    touched_apart: set[int] = set()
    orm_begun: set[int] = set()  # connections in an ORM session's transaction not yet counted
    in_session: set[int] = set()  # connections in an ORM session's transaction

    def statement(connection: Any, _cursor: Any, sql: str, *_: Any) -> None:
        if asyncio.current_task() is not this_test:
            return
        if any(name in sql for name in APART):
            seen["apart"] += 1
            touched_apart.add(id(connection))
        else:
            seen[sql.split(None, 1)[0].upper()] += 1
            seen["relaxed"] += RELAXED in sql
            if id(connection) in orm_begun:
                seen["ORM transactions"] += 1
                orm_begun.discard(id(connection))
            if COMPLETION in sql and id(connection) in in_session:
                seen["closing in a session"] += 1
            if " IN (" in sql:
                seen["expanded IN"] += 1
            statements.append(" ".join(sql.split())[:90])

    def commit(connection: Any) -> None:
        if asyncio.current_task() is not this_test:
            return
        seen["apart commits" if id(connection) in touched_apart else "COMMIT"] += 1
        for tracked in (touched_apart, orm_begun, in_session):
            tracked.discard(id(connection))

    def rollback(connection: Any) -> None:
        for tracked in (touched_apart, orm_begun, in_session):
            tracked.discard(id(connection))

    def begin(_session: Session, _transaction: Any, connection: Any) -> None:
        if asyncio.current_task() is this_test:
            orm_begun.add(id(connection))
            in_session.add(id(connection))

    def made(row: Any, _args: Any, _kwargs: Any) -> None:
        if asyncio.current_task() is not this_test:
            return
        if not any(name in row.__tablename__ for name in APART):
            seen["ORM rows made"] += 1

    def flush(session: Session, _context: Any) -> None:
        if asyncio.current_task() is not this_test:
            return
        tables = {getattr(row, "__tablename__", "") for row in (*session.new, *session.dirty)}
        if any(not any(name in table for name in APART) for table in tables):
            seen["ORM flushes"] += 1

    listeners: list[tuple[str, Callable[..., None]]] = [
        ("before_cursor_execute", statement),
        ("commit", commit),
        ("rollback", rollback),
    ]
    for name, listener in listeners:
        event.listen(engine.sync_engine, name, listener)
    event.listen(Session, "after_flush", flush)
    event.listen(Session, "after_begin", begin)
    event.listen(Base, "init", made, propagate=True)
    try:
        yield seen, statements
    finally:
        for name, listener in listeners:
            event.remove(engine.sync_engine, name, listener)
        event.remove(Session, "after_flush", flush)
        event.remove(Session, "after_begin", begin)
        event.remove(Base, "init", made)


def served(body: dict[str, Any]) -> dict[str, Any]:
    """The invoice with a service period on each line (a billing engine's invoice)."""
    for line in body["lines"]:
        line["service_period_start"] = date.today().isoformat()
        line["service_period_end"] = (date.today() + timedelta(days=29)).isoformat()
    return body


# The lines booked to deferred revenue keep their account: one UPDATE for all of them.
@pytest.mark.parametrize(("lines", "more"), [("unserved", 0), ("served", 1)])
async def test_a_posting_costs_a_bounded_number_of_statements(
    make_gateway: GatewayFactory, lines: str, more: int
) -> None:
    # A busy host must not turn a slow ERP answer into a retry, with requests of its own.
    erp = BackendSettings(read_timeout_seconds=60, retry_budget_seconds=60).model_dump()
    gateway = await make_gateway(erp=erp)
    engine: AsyncEngine = gateway.app.state.process.sessionmaker.kw["bind"]
    warm = await post(gateway, await register(gateway), "warm-up")  # customer and tax groups
    assert warm.status_code == 201, warm.text
    body = invoice_body()
    invoice_id = await register(gateway, served(body) if lines == "served" else body)

    with counting(engine) as (seen, sql):
        response = await post(gateway, invoice_id, "counted")

    assert response.status_code == 201, response.text
    statements = sum(n for kind, n in seen.items() if kind.isupper() and kind != "COMMIT")
    assert statements <= STATEMENTS[engine.dialect.name] + more, (dict(seen), sql)
    assert seen["relaxed"] == 0, (dict(seen), sql)
    assert seen["ORM transactions"] <= ORM_TRANSACTIONS, (dict(seen), sql)
    assert seen["COMMIT"] <= COMMITS, (dict(seen), sql)
    # An IN list is expanded into its statement's text at each execution: the hot path's
    # statements bind one value per parameter, so each is compiled once and reused.
    assert seen["expanded IN"] == 0, (dict(seen), sql)
    assert seen["ORM flushes"] <= FLUSHES, (dict(seen), sql)
    assert seen["closing in a session"] == 0, (dict(seen), sql)
    assert seen["ORM rows made"] <= ROWS_MADE, (dict(seen), sql)
