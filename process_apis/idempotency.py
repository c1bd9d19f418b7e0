"""`Idempotency-Key` for writes with financial effect (Stripe's semantics, IETF draft).

Every write route takes one dependency and runs its one service call through it:
`IdempotentWrite` (the key required: a request without one is a 400
`idempotency-key-required`), `ReleasedIdempotentWrite` (the same, for operations a
released contract published with the key declared optional) or `OptionalIdempotentWrite`.

Keys are scoped per client. The same key with the same request replays the stored
response (`Idempotent-Replayed: true`); with a different request it is a 422 problem;
while the first request with that key is still in flight it is a 409 problem. The answer
is stored with the request's audit row, in one transaction; a handler may leave its own
last transaction open for that (`Closing`), so the write and its stored answer commit
together; and a handler whose first transaction commits before any backend call may run it
in the transaction holding the key's claim (`Opening`), the claim sent with its first read.
A request that crashed leaves its key locked only until `LOCK_TTL` passes, after which a
retry takes it over (the workflow itself is resumable).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Annotated, Any, Generic, Protocol, TypeVar

from fastapi import Depends, Header, Request
from fastapi.dependencies.models import Dependant
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy import Insert, Row, bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from core.audit import pending_audit
from core.db import connection_of, table_of, upsert_into
from core.driver import first
from core.duplicates import DuplicateSource, count_duplicates
from core.errors import BadRequest, Conflict, LedgergateError
from core.folded import StaleWrite, Unled, Write, alone_possible, execute_folded
from core.metrics import IDEMPOTENT_REPLAYS
from core.models.audit_event import AuditEventRow
from core.models.base import utcnow
from core.models.idempotency_key import IdempotencyKeyRow, IdempotencyStatus
from core.models.workflow_run import RunStatus
from core.problems import PROBLEM_MEDIA_TYPE, error_document
from process_apis.deps import CallerDep, ContextDep
from process_apis.runs.engine import digest
from process_apis.runs.schemas import RunSummary

logger = logging.getLogger(__name__)

LOCK_TTL = timedelta(minutes=5)
KEYS = table_of(IdempotencyKeyRow)
# The key's answer stored (its claim's row named by `claim_client_id`, `claim_key`).
_COMPLETE_KEY = update(KEYS).where(
    KEYS.c.client_id == bindparam("claim_client_id"), KEYS.c.key == bindparam("claim_key")
)
_RELEASE_KEY = delete(KEYS).where(
    KEYS.c.client_id == bindparam("claim_client_id"), KEYS.c.key == bindparam("claim_key")
)
# A key's row as stored, read by SQL Core: judged, and replayed, without an ORM object.
_SELECT_KEY = select(KEYS).where(
    KEYS.c.client_id == bindparam("client_id"), KEYS.c.key == bindparam("key")
)
REPLAYED_HEADER = "Idempotent-Replayed"
STORED_HEADERS = ("location", "content-type")

KEY_HEADER = "Idempotency-Key"
_KEY = Header(
    alias=KEY_HEADER,
    min_length=1,
    max_length=255,
    pattern=r"^[\x21-\x7e]+$",
    description="Unique key per intended write; retries with the same key are safe.",
)


class IdempotencyKeyRequired(BadRequest):
    slug = "idempotency-key-required"
    title = "Idempotency-Key header required"


class IdempotencyKeyReused(LedgergateError):
    status_code = 422
    slug = "idempotency-key-reused"
    title = "Idempotency-Key reused with a different request"


class IdempotentRequestInFlight(Conflict):
    slug = "idempotency-request-in-flight"
    title = "A request with this Idempotency-Key is still being processed"


class Body(Protocol):
    """What a handler answers: a model the answer and its stored copy are written from."""

    def model_dump_json(self) -> str: ...


@dataclass(frozen=True)
class Outcome:
    """A handler's result: the status and JSON-able body to send and to store."""

    status_code: int
    body: Body
    headers: dict[str, str] | None = None


class Undoable(Body, Protocol):
    """A resource an undo (a reversal) answers with: its status, and its run while queued."""

    @property
    def status(self) -> str: ...

    @property
    def run_url(self) -> str | None: ...


U = TypeVar("U", bound=Undoable)


def period_outcome(result: Body, *, drawn_up: int, runs: Iterable[RunSummary | None]) -> Outcome:
    """A month's run (settlement, recognition): `202` when a posting is queued, else `201`
    when it drew up something new, `200` when not."""
    queued = any(run is not None and run.status == RunStatus.PENDING_RETRY for run in runs)
    return Outcome(202 if queued else 201 if drawn_up else 200, result)


async def undo_outcome(
    read: Callable[[], Awaitable[U]], undo: Callable[[], Awaitable[U]], *, undone: str
) -> Outcome:
    """Undo, and answer `201` undone now, `200` undone before (status `undone` then), or
    `202` queued, its run as `Location`."""
    before = await read()
    after = await undo()
    if after.status != undone:
        return Outcome(202, after, {"Location": after.run_url or ""})
    return Outcome(200 if before.status == undone else 201, after)


class Transaction(Protocol):
    """An open transaction: a session's, or a connection's."""

    async def commit(self) -> None: ...

    async def close(self) -> None: ...


T = TypeVar("T", bound=Transaction)
A = TypeVar("A")


class Handover(Generic[T, A]):
    """A transaction handed from one party to another still open (once), with what goes
    along with it (`A`: a claim or writes not yet sent in it)."""

    def __init__(self) -> None:
        self._transaction: T | None = None
        self._along: A | None = None

    def hand_over(self, transaction: T, along: A | None = None) -> None:
        """Take `transaction`, still open, and `along`; the caller neither commits nor
        closes it."""
        assert self._transaction is None, "one transaction is handed over"
        self._transaction = transaction
        self._along = along

    def take(self) -> T | None:
        """The handed-over transaction, if any (once)."""
        transaction, self._transaction = self._transaction, None
        return transaction

    @property
    def along(self) -> A | None:
        """What goes along with the transaction, not taken."""
        return self._along

    def take_along(self) -> A | None:
        """What was handed over along with the transaction, if anything (once)."""
        along, self._along = self._along, None
        return along

    async def commit(self) -> None:
        """Commit and close what was handed over and not taken, if anything."""
        transaction = self.take()
        if transaction is not None:
            try:
                await transaction.commit()
            finally:
                await transaction.close()

    async def discard(self) -> None:
        """Roll back and close what was handed over and not taken, if anything."""
        transaction = self.take()
        if transaction is not None:
            await transaction.close()


class Opening(Handover[AsyncSession, Write]):
    """The key's claim, handed to the handler uncommitted so its first transaction joins it:
    the claim and the handler's first write commit together, in one commit instead of two.

    Why that stays correct. Until that commit, the key's row is an uncommitted insert under
    the unique (client, key) index: a concurrent request with the same key inserts the same
    row and waits on the index (PostgreSQL waits for the first transaction to end; SQLite's
    single writer waits its busy timeout), then sees the committed claim and answers `409`
    in flight, exactly as if the claim had committed on its own. A handler takes it only
    when its first transaction commits before any backend call (the posting's prepare,
    committed by its first step's start), so no duplicate waits on a backend. If that
    transaction rolls back instead (a refusal raised before any write), the claim goes
    with it: the key is as if never used, the refusal's answer is stored by a completion
    that inserts the key's row when it finds none (`IdempotencyStore.complete`), and a
    duplicate that claimed the key in between keeps its own claim.

    Whoever runs the handler disposes of a claim the handler left untaken (or gave back, its
    transaction having written nothing else): its completion joins it, a release discards it.

    The claim may also be handed over unsent (`lead`), with a session that has begun
    nothing: the handler sends it with its first read (`core.folded.rows_led`, in that
    read's statement on PostgreSQL), which raises `Unled` when the key was there (or the read
    found nothing), the read's transaction given back to the opening. The key is judged in
    that transaction first: a stored answer is replayed, another request's refused (`422`)
    and another request's live lock refused as in flight (`409`) there, without the
    rollback, the new transaction and the insert of a claim of its own. A key in flight as
    the lead wrote it (perhaps its own claim, when the read found nothing: the row it wrote
    is the same then) or whose request died is then claimed on its own, judged as always
    (`409`, or a takeover), and the handler runs again under that claim.
    """


Refusal = Callable[[AsyncConnection, StaleWrite], Awaitable[None]]
"""Raises what a handler raises when one of its writes changed no row (in the connection's
transaction, rolled back after), or returns to let that `StaleWrite` stand."""


@dataclass(frozen=True)
class Unsent:
    """A handler's last writes, handed over unsent (see `Closing`), and its `refusal` of one
    of them that changed no row."""

    writes: Sequence[Write]
    refusal: Refusal


class Closing(Handover[AsyncConnection, Unsent]):
    """A handler's last transaction, handed over uncommitted so the key's completion joins
    it: the write and its stored answer commit together, in one commit instead of two. It is
    a connection's (SQL Core, no ORM session or flush): the completion speaks SQL Core too.

    The handler may hand its last writes over unsent (`Unsent`): the completion sends them
    with its own, in one statement on PostgreSQL, and a write of theirs that changed no row
    is refused then as the handler would have refused it, the answer not stored.

    The handler hands it over only when nothing but building its answer follows (no backend
    call may wait on an uncommitted write). Whoever runs the handler commits what was handed
    over in every case: with the completion, alone before releasing the key, or alone when
    the request has no key or the handler failed after the handover.
    """

    async def commit(self) -> None:
        """Send what was handed over unsent, then commit and close (see `Handover`)."""
        unsent, connection = self.take_along(), self.take()
        if connection is not None:
            try:
                await send_unsent(connection, unsent, [])
                await connection.commit()
            finally:
                await connection.close()


async def send_unsent(
    connection: AsyncConnection, unsent: Unsent | None, writes: Sequence[Write], **folding: bool
) -> list[Any]:
    """`unsent`'s writes, then `writes`, in one statement on PostgreSQL (`execute_folded`,
    given `folding`); their answers. One of `unsent`'s that changed no row is refused by its
    `refusal`."""
    sent = [] if unsent is None else unsent.writes
    try:
        return await execute_folded(connection, [*sent, *writes], **folding)
    except StaleWrite as stale:
        if unsent is not None and any(stale.write is write for write in sent):
            await unsent.refusal(connection, stale)
        raise


class IdempotencyStore:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], retention: timedelta
    ) -> None:
        self.sessionmaker = sessionmaker
        self.retention = retention

    async def claim(
        self,
        *,
        client_id: str,
        key: str,
        method: str,
        path: str,
        request_hash: str,
        opening: Opening | None = None,
    ) -> Row[Any] | None:
        """Lock the key for this request; return the stored row when it must be replayed.

        A key used for the first time costs one statement: an insert that does nothing when
        the key is there, in which case the stored row is read and judged (a replay is
        counted among the duplicates suppressed). Each statement stands alone (the insert
        and the takeover of a dead request's lock are atomic by themselves), so they run
        without a transaction block: no `BEGIN` and `COMMIT` round trips around them. With
        `opening`, a claim the request may run under is handed over uncommitted instead,
        for the handler's first transaction to commit (see `Opening`).
        """
        now = utcnow()
        session, handed_over = self.sessionmaker(), False
        try:
            connection = await (
                session.connection()
                if opening is not None
                else session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            )
            claimed = await first(
                connection,
                _insert_key(connection.dialect.name),
                self._claim_row(client_id, key, (method, path, request_hash), now),
            )
            if claimed is None:
                row = await self._judge(session, client_id, key, method, path, request_hash, now)
                if row is not None:
                    return row
            if opening is None:
                await session.commit()
            else:
                opening.hand_over(session)
                handed_over = True
            return None
        finally:
            if not handed_over:
                await session.close()

    def unsent_claim(
        self, *, client_id: str, key: str, method: str, path: str, request_hash: str
    ) -> Write:
        """`claim`'s insert as a write for a handler's first read to lead (see `Opening`): it
        returns the key when it inserted the key's row."""
        dialect = self.sessionmaker.kw["bind"].dialect.name
        row = self._claim_row(client_id, key, (method, path, request_hash), utcnow())
        return Write(_insert_key(dialect), [row])

    def _claim_row(
        self, client_id: str, key: str, request: tuple[str, str, str], now: datetime
    ) -> dict[str, object]:
        """A key's row as its claim writes it: in flight, locked for `LOCK_TTL`."""
        return self._new_key(
            client_id,
            key,
            request,
            now,
            status=IdempotencyStatus.IN_FLIGHT,
            locked_until=now + LOCK_TTL,
        )

    def _new_key(
        self,
        client_id: str,
        key: str,
        request: tuple[str, str, str],
        now: datetime,
        **state: object,
    ) -> dict[str, object]:
        """A key's row as first written: the request (method, path, its hash), its times and
        its `state` (in flight with its lock, or already answered)."""
        method, path, request_hash = request
        return {
            "client_id": client_id,
            "key": key,
            "method": method,
            "path": path,
            "request_hash": request_hash,
            "created_at": now,
            "expires_at": now + self.retention,
            **state,
        }

    async def _judge(
        self,
        session: AsyncSession,
        client_id: str,
        key: str,
        method: str,
        path: str,
        request_hash: str,
        now: datetime,
    ) -> Row[Any] | None:
        """A key already there: its stored row to replay (committed), or none when this
        request took over a dead request's lock (left to the caller to commit)."""
        connection = await session.connection()
        row = (await connection.execute(_SELECT_KEY, {"client_id": client_id, "key": key})).first()
        if row is None:  # its first request released it in between
            raise IdempotentRequestInFlight("concurrent use of this key; retry shortly")
        if await _answered(session, row, (method, path, request_hash)):
            return row
        if row.locked_until is not None and row.locked_until > now:
            raise IdempotentRequestInFlight(
                "the first request with this key has not finished; retry shortly"
            )
        # The first request died holding the lock: take it over, atomically.
        taken = await connection.execute(
            update(KEYS)
            .where(
                KEYS.c.client_id == client_id,
                KEYS.c.key == key,
                KEYS.c.locked_until == row.locked_until,
            )
            .values(locked_until=now + LOCK_TTL)
        )
        if taken.rowcount != 1:
            await session.rollback()
            raise IdempotentRequestInFlight("another retry with this key took it over first")
        return None

    async def judged_after_lead(
        self,
        session: AsyncSession | None,
        lead: Write,
        *,
        client_id: str,
        key: str,
        method: str,
        path: str,
        request_hash: str,
    ) -> Row[Any] | None:
        """A key whose claim (`lead`) led a handler's read and claimed nothing (`Opening`),
        judged in that read's transaction (`session`, closed here) rather than claimed
        afresh: its stored answer to replay (counted, committed), a different request
        refused, or another request's live lock refused as in flight, with no rollback, new
        transaction and insert before. None when `claim` must judge it: a row as the lead
        wrote it may be the lead's own claim (its read found nothing), and a dead request's
        lock is taken over there."""
        if session is None:
            return None
        try:
            connection = await session.connection()
            parameters = {"client_id": client_id, "key": key}
            row = (await connection.execute(_SELECT_KEY, parameters)).first()
            if row is None or await _answered(session, row, (method, path, request_hash)):
                return row
            claimed = lead.rows[0]
            others = (row.created_at, row.locked_until) != (
                claimed["created_at"],
                claimed["locked_until"],
            )
            if others and row.locked_until is not None and row.locked_until > utcnow():
                raise IdempotentRequestInFlight(
                    "the first request with this key has not finished; retry shortly"
                )
            return None
        finally:
            await session.close()

    async def complete(
        self,
        *,
        client_id: str,
        key: str,
        status: int,
        headers: dict[str, str],
        body: str,
        audit: dict[str, Any] | None = None,
        joining: AsyncSession | AsyncConnection | None = None,
        unsent: Unsent | None = None,
        request: tuple[str, str, str] | None = None,
    ) -> None:
        """Store the answer (and the request's `audit` row, its columns, with it, in one
        transaction, and one statement on PostgreSQL: `core.folded`) by SQL Core: in
        `joining`'s open transaction when given, a session's (a claim, see `Opening`) or a
        connection's (see `Closing`), committed and closed; else in a connection's
        transaction of its own. `unsent`: the joined connection's last writes, sent first
        in the same statement (`send_unsent`).

        `request` (method, path, request hash), given when the claim may have been rolled
        back with the handler's transaction (see `Opening`): the key's row is then written
        whole when its claim is not there, unless another request has claimed the key since.
        Without it (the claim committed, so its row is there) and with no transaction begun
        (no `joining`, or a connection that has sent nothing, its writes `unsent`), the
        completion is one statement, sent alone on PostgreSQL: no `BEGIN`, no `COMMIT`
        (`core.driver.first`); a versioned write among `unsent` is checked in it.
        """
        bind: AsyncEngine = self.sessionmaker.kw["bind"]
        transaction = joining if joining is not None else await bind.connect()
        answer = {
            "status": IdempotencyStatus.COMPLETED,
            "response_status": status,
            "response_headers": headers,
            "response_body": body,
            "locked_until": None,
        }
        try:
            connection = await connection_of(transaction)
            sent = () if unsent is None else unsent.writes
            writes = [
                Write(_COMPLETE_KEY, [{"claim_client_id": client_id, "claim_key": key, **answer}])
            ]
            if audit is not None:  # its defaults set here: a folded write sets its own
                writes.append(
                    Write(_INSERT_AUDIT, [{"occurred_at": utcnow(), "count": 1, **audit}])
                )
            alone = (
                request is None
                and not connection.in_transaction()
                and alone_possible(connection.dialect.name, [*sent, *writes])
            )
            answers = await send_unsent(connection, unsent, writes, alone=alone)
            stored = answers[-len(writes)]
            if stored == 0 and request is not None:
                await connection.execute(
                    _insert_key(connection.dialect.name),
                    self._new_key(client_id, key, request, utcnow(), **answer),
                )
            if not alone:
                await transaction.commit()
        finally:
            await transaction.close()

    async def release(self, *, client_id: str, key: str) -> None:
        """Forget a key whose request failed unexpectedly, so a retry starts afresh: one
        statement, a transaction of its own (`core.driver.first`'s `alone`)."""
        bind: AsyncEngine = self.sessionmaker.kw["bind"]
        async with bind.connect() as connection:
            claim = {"claim_client_id": client_id, "claim_key": key}
            await first(connection, _RELEASE_KEY, claim, alone=True)

    async def purge_expired(self, *, now: datetime | None = None) -> int:
        """Delete keys past their retention; returns how many."""
        async with self.sessionmaker.begin() as session:
            result = await session.execute(
                delete(IdempotencyKeyRow).where(IdempotencyKeyRow.expires_at <= (now or utcnow()))
            )
            return int(result.rowcount)  # type: ignore[attr-defined]


AUDIT = table_of(AuditEventRow)
_INSERT_AUDIT = insert(AUDIT)


@cache
def _insert_key(dialect: str) -> Insert:
    """INSERT a key's row unless the client has the key already, returning the key when it
    inserted (built once per dialect: its compiled form is cached)."""
    return (
        upsert_into(KEYS, dialect)
        .on_conflict_do_nothing(index_elements=[KEYS.c.client_id, KEYS.c.key])
        .returning(KEYS.c.key)
    )


async def _answered(session: AsyncSession, row: Row[Any], request: tuple[str, str, str]) -> bool:
    """Whether the key's stored `row` answers `request` (method, path, hash): a replay,
    counted among the duplicates and committed; a row of another request is refused (422);
    a key still in flight is not (False)."""
    if (row.method, row.path, row.request_hash) != request:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was first used for a different request; "
            "use a new key for a new request"
        )
    if row.status != IdempotencyStatus.COMPLETED:
        return False
    await count_duplicates(session, DuplicateSource.IDEMPOTENT_REPLAY)
    await session.commit()
    return True


def _path(request: Request) -> str:
    """`request.url.path` without building the URL (its scheme, host and query, parsed)."""
    path: str = request.scope["path"]
    if "?" in path or "#" in path or "\\" in path:
        return path.replace("?", "%3F").replace("#", "%23").replace("\\", "%5C")
    return path


def _replay(row: Row[Any]) -> Response:
    headers = dict(row.response_headers or {})
    headers[REPLAYED_HEADER] = "true"
    media_type = headers.pop("content-type", "application/json")
    return Response(
        content=row.response_body or "",
        status_code=row.response_status or 200,
        headers=headers,
        media_type=media_type,
    )


async def run_idempotently(
    store: IdempotencyStore,
    request: Request,
    *,
    client_id: str,
    key: str | None,
    body: BaseModel | None,
    handler: Callable[[], Awaitable[Outcome]],
    closing: Closing | None = None,
    opening: Opening | None = None,
) -> Response:
    """Run `handler` once per (client, key); replay its stored response afterwards.

    Problems raised by the handler are final answers too, and are stored, except
    conflicts and server-side failures, which release the key so a retry runs again.
    A request without a key (where the route lets it go without) simply runs.
    `closing`: where the handler may hand over its last transaction (see `Closing`);
    `opening`: where the key's claim is handed to the handler uncommitted (see `Opening`).
    """
    closing = closing or Closing()
    # Without an opening the claim commits on its own; an empty one stands in for it below.
    claim_opening, opening = opening, opening or Opening()
    if key is None:
        try:
            outcome = await handler()
        finally:
            await closing.commit()
        return Response(
            outcome.body.model_dump_json(),
            status_code=outcome.status_code,
            headers=outcome.headers,
            media_type="application/json",
        )
    request_hash = digest(body.model_dump(mode="json") if body is not None else None)
    method, path = request.scope["method"], _path(request)
    claim = {
        "client_id": client_id,
        "key": key,
        "method": method,
        "path": path,
        "request_hash": request_hash,
    }

    async def answer(status: int, content: str, headers: dict[str, str]) -> Response:
        """The response, its answer stored with what the handler handed over, unless a
        retry must run again."""
        media_type = headers.pop("content-type")
        response = Response(content, status_code=status, headers=headers, media_type=media_type)
        if status >= 500 or status == 409:
            # Not a final answer (a concurrent change, a failure of ours): let a retry run again.
            await opening.discard()
            await closing.commit()
            await store.release(client_id=client_id, key=key)
            return response
        stored_headers, location = {}, None
        for name, value in headers.items():
            lowered = name.lower()
            if lowered in STORED_HEADERS:
                stored_headers[name] = value
            if lowered == "location" and location is None:
                location = value
        stored_headers["content-type"] = media_type
        audit = pending_audit(request.scope.get("state", {}))
        unsent = closing.take_along()
        joining: AsyncSession | AsyncConnection | None = closing.take()
        # A claim committed on its own is there; one run under the handler may be rolled back,
        # unless the handler handed its last transaction over: its first committed the claim.
        claim_committed = claim_opening is None or joining is not None
        if joining is None:
            joining = opening.take()  # a claim the handler left untaken: stored with its answer
        else:
            await opening.commit()
        await store.complete(
            client_id=client_id,
            key=key,
            status=status,
            headers=stored_headers,
            body=content,
            audit=audit.values(status, location) if audit is not None else None,
            joining=joining,
            unsent=unsent,
            request=None if claim_committed else (method, path, request_hash),
        )
        if audit is not None:
            audit.written = True
        return response

    async def answered() -> Response:
        """The handler's answer, stored (`answer`); `Unled` raised as the handler raised it."""
        try:
            outcome = await handler()
            status, content = outcome.status_code, outcome.body.model_dump_json()
            headers = {"content-type": "application/json", **(outcome.headers or {})}
            if closing.along is not None:  # sent with the answer: their refusal is the handler's
                return await answer(status, content, headers)
        except LedgergateError as error:
            status = error.status_code
            document: dict[str, Any] = error_document(
                error,
                instance=path,
                correlation_id=getattr(request.state, "correlation_id", None),
            )
            content = json.dumps(document)
            headers = {"content-type": PROBLEM_MEDIA_TYPE}
        except Unled:  # the claim, sent with the handler's first read, claimed nothing:
            raise  # its transaction, given back to `opening`, is where the key is judged
        except BaseException:
            await opening.discard()
            await closing.commit()
            await store.release(client_id=client_id, key=key)
            raise
        return await answer(status, content, headers)

    stored = None
    if claim_opening is not None:
        # The claim goes with the handler's first read; failing that, the key is judged in
        # that read's transaction, else claimed below.
        lead = store.unsent_claim(**claim)
        claim_opening.hand_over(store.sessionmaker(), lead)
        try:
            return await answered()
        except Unled:
            stored = await store.judged_after_lead(claim_opening.take(), lead, **claim)
    if stored is None:
        stored = await store.claim(**claim, opening=claim_opening)
    if stored is not None:
        IDEMPOTENT_REPLAYS.inc()
        logger.info("idempotency.replayed", extra={"client_id": client_id, "path": path})
        return _replay(stored)
    return await answered()


@dataclass(frozen=True)
class Idempotency:
    """A write route's `Idempotency-Key`: `await idempotency(body, handler)` runs the handler
    once per key and replays its answer to every retry."""

    store: IdempotencyStore
    request: Request
    client_id: str
    key: str | None

    def __call__(
        self,
        body: BaseModel | None,
        handler: Callable[[], Awaitable[Outcome]],
        closing: Closing | None = None,
        opening: Opening | None = None,
    ) -> Coroutine[Any, Any, Response]:
        """`run_idempotently`'s coroutine itself, not one of its own around it that the
        request's task would resume at every wait."""
        return run_idempotently(
            self.store,
            self.request,
            client_id=self.client_id,
            key=self.key,
            body=body,
            handler=handler,
            closing=closing,
            opening=opening,
        )


def _idempotency(
    request: Request, context: ContextDep, caller: CallerDep, key: str | None
) -> Idempotency:
    store = IdempotencyStore(context.sessionmaker, context.settings.idempotency_retention)
    return Idempotency(store=store, request=request, client_id=caller.client_id, key=key)


async def required_key(
    request: Request,
    context: ContextDep,
    caller: CallerDep,
    key: Annotated[str, _KEY],
) -> Idempotency:
    return _idempotency(request, context, caller, key)


async def optional_key(
    request: Request,
    context: ContextDep,
    caller: CallerDep,
    key: Annotated[str | None, _KEY] = None,
) -> Idempotency:
    return _idempotency(request, context, caller, key)


async def released_required_key(
    request: Request,
    context: ContextDep,
    caller: CallerDep,
    key: Annotated[str | None, _KEY] = None,
) -> Idempotency:
    """`required_key` for the operations a released contract published with the key declared
    optional: declaring it required there would break that release (a new major fixes it)."""
    if key is None:
        raise IdempotencyKeyRequired("send an Idempotency-Key header with this request")
    return _idempotency(request, context, caller, key)


def takes_required_key(dependant: Dependant) -> bool:
    """Whether a route (its dependency tree) takes `IdempotentWrite`."""
    return any(
        sub.call is required_key or takes_required_key(sub) for sub in dependant.dependencies
    )


IdempotentWrite = Annotated[Idempotency, Depends(required_key)]
OptionalIdempotentWrite = Annotated[Idempotency, Depends(optional_key)]
ReleasedIdempotentWrite = Annotated[Idempotency, Depends(released_required_key)]
