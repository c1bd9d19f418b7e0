"""The floor of the posting benchmark: the gateway's I/O for one posting, with the least Python.

What is the least a served synchronous posting with the gateway's durability can cost in
Python on this host? `POST /floor/invoices/{id}/postings` (with an `Idempotency-Key`) on
a bare Starlette app makes the I/O a gateway posting makes, and nothing else:

- the bearer token looked up in a dict (the gateway verifies a signed token);
- Redis: the gateway's rate-limit script (a guarded count: the address's failed
  authentications, the client's write tier, the client-status version) as one
  `EVALSHA`, and before the first ERP request the ERP budget's acquire script
  (`system_apis.budget_redis`, the previous posting's release in its arguments) for one
  slot the posting's requests share, as the gateway does: two round trips a posting, on
  raw RESP connections;
- PostgreSQL through a raw asyncpg pool: 15 statements in 2 transactions, the gateway's
  transactions when the floor was last written (the gateway sends 4 statements in them:
  the floor's database share is the larger, so it is a floor for the Python only), on the
  gateway's tables and the seeded invoice (claim the idempotency key, read the invoice,
  customer and legal entity, mark it posting, record the run and its steps; then the
  document's steps done, the invoice posted, its event, the run, the audit record and the
  stored answer);
- the ERP: the gateway's one Business Central request for a first attempt (the draft
  with its lines in one deep insert, its post and its read, in one `$batch`), its body
  from the adapter's wire mapping, on kept-alive HTTP/1.1 connections written by hand and
  read by the gateway transport's parser (`system_apis.keepalive`: httpx's client
  machinery took a third of the floor's Python calls), after the database has recorded
  what it is about to do.

No validation beyond the status, no retries, no exception queue, no logging: a lower
bound, not a product.

What it says (`bench/RESULTS.md`, 2026-12-07, two workers on two shared cores): on the
host quiet enough, the floor posted at 8.0-9.1x the direct p50 one at a time (10x is
reachable, with 0.7-1.6 ms to spare) and at 144-268 postings/s with 8 in flight (250/s was
reached once: the floor's server side spends 6-8 ms of CPU a posting, so two cores
serve 254-326/s at most before the load generator's share); its own process spent a
quarter of the gateway's CPU per posting. Under other load it missed both (15x,
100-120/s). A Python gateway making this I/O can meet the targets on this host only by
coming within about a millisecond of this floor per posting.

Served by `python -m bench.serve posting-floor` with the
gateway's worker count, configured by the gateway's variables
(`LEDGERGATE_DATABASE_URL`, `LEDGERGATE_ERP__URL`, `LEDGERGATE_RATE_LIMIT_STORAGE_URL`)
and `BENCH_FLOOR_TOKEN`, the one bearer token it accepts (for the demo platform client).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

import asyncpg  # type: ignore[import-untyped]
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.backends import BUDGET_LEASE_MARGIN_SECONDS
from app.governance.rate_window import GUARDED_COUNT
from core.settings import Settings
from events.lanes import lane_of
from system_apis.budget import CLOCK_MARGIN_SECONDS
from system_apis.budget_redis import ACQUIRE, PARTS
from system_apis.erp.adapters.business_central_wire import BcBatchRequest
from system_apis.erp.mapping import (
    NEW_INVOICE_READ_ID,
    batch_operation_ids,
    new_sales_invoice_operations,
)
from system_apis.erp.schemas import ErpInvoiceLine, ErpSalesInvoiceCreate
from system_apis.keepalive import KEEPALIVE_EXPIRY_SECONDS, READ_SIZE, _Answer
from system_apis.priority import FULL_SCALE

TOKEN_ENV = "BENCH_FLOOR_TOKEN"
CLIENT_ID = "demo-platform"
BUDGET_KEYS = tuple(b"ledgergate:erp-budget:{erp-floor}:" + part.encode() for part in PARTS)
IDEMPOTENCY_HOURS = 24


def pack(*parts: bytes) -> bytes:
    """A Redis command as the server reads it off the wire."""
    return b"*%d\r\n%b" % (len(parts), b"".join([b"$%d\r\n%b\r\n" % (len(p), p) for p in parts]))


class RedisError(Exception):
    pass


class Resp:
    """Redis over raw RESP: a pool of idle connections, one command and its answer at a time
    on each; a connection whose exchange failed is closed, never reused."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url.removeprefix("async+"))
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 6379
        self.db = (parts.path or "/0").lstrip("/") or "0"
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def call(self, command: bytes) -> Any:
        connection = self.idle.pop() if self.idle else await self._connect()
        reader, writer = connection
        try:
            writer.write(command)
            answer = await _read(reader)
        except BaseException:
            writer.close()
            raise
        self.idle.append(connection)
        return answer

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        writer.write(pack(b"SELECT", self.db.encode()))
        await _read(reader)
        return reader, writer

    async def close(self) -> None:
        idle, self.idle = self.idle, []
        for _, writer in idle:
            writer.close()


async def _read(reader: asyncio.StreamReader) -> Any:
    line = await reader.readline()
    kind, rest = line[:1], line[1:-2]
    if kind == b":":
        return int(rest)
    if kind == b"$":
        size = int(rest)
        return None if size < 0 else (await reader.readexactly(size + 2))[:-2]
    if kind == b"*":
        return [await _read(reader) for _ in range(int(rest))]
    if kind == b"+":
        return rest
    raise RedisError(rest.decode(errors="replace") or "connection closed")


class Budget:
    """The ERP budget's acquire before a posting's requests (its release rides the next)."""

    def __init__(self, redis: Resp, settings: Settings) -> None:
        limits = settings.erp.limits
        self.redis = redis
        self.fixed = b"%d %d %d" % (
            round((limits.window_seconds + CLOCK_MARGIN_SECONDS) * 1000),
            limits.requests_per_window or 0,
            limits.max_concurrent_requests,
        )
        self.lease_ms = round(
            (settings.erp.retry_budget_seconds + BUDGET_LEASE_MARGIN_SECONDS) * 1000
        )
        self.sha = b""
        self.released: list[bytes] = []

    async def acquire(self, cost: int, requests: int) -> bytes:
        """A slot for `requests` requests of `cost` operations together; its token, to
        `release`."""
        token = os.urandom(16).hex().encode()
        head = b"%d %b %d %d %b %d %d" % (
            time.time_ns() // 1_000_000,
            self.fixed,
            cost,
            requests * self.lease_ms,
            token,
            FULL_SCALE,
            FULL_SCALE,
        )
        released, self.released = self.released, []
        answer = await self.redis.call(
            pack(b"EVALSHA", self.sha, b"3", *BUDGET_KEYS, head, *released)
        )
        if not answer[0]:
            raise RedisError("the ERP budget has no room")
        return token

    def release(self, token: bytes, cost: int) -> None:
        self.released.append(b"%b %d %d" % (token, cost, time.time_ns() // 1_000_000))


async def kept_as_is(_: asyncpg.Connection) -> None:
    """A connection goes back to the pool as its posting left it (committed): asyncpg's
    default reset would cost a round trip a posting that SQLAlchemy's pool does not make."""


class Erp(Protocol):
    async def post(self, path: str, body: bytes) -> tuple[int, bytes]: ...

    async def close(self) -> None: ...


class Http:
    """JSON `POST`s to one HTTP/1.1 origin on raw asyncio streams, kept alive: the request
    written whole, the answer read by llhttp (`httptools`, through the gateway transport's
    parser callbacks). As in the gateway's transport, a connection idle for longer than
    servers keep one, or closed by the server, is not reused, nor one whose exchange
    failed."""

    def __init__(self, url: str, token: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.root = parts.path.rstrip("/").encode()
        self.head = (
            f"Host: {self.host}:{self.port}\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\n"
        ).encode()
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        reader, writer = self._kept() or await asyncio.open_connection(self.host, self.port)
        answer = _Answer()
        try:
            writer.write(
                b"POST %b%b HTTP/1.1\r\n%bContent-Length: %d\r\n\r\n%b"
                % (self.root, path.encode(), self.head, len(body), body)
            )
            while not answer.complete:
                data = await reader.read(READ_SIZE)
                if not data:
                    raise ConnectionError("the ERP closed the connection mid-answer")
                answer.parser.feed_data(data)
        except BaseException:
            writer.close()
            raise
        if answer.keep_alive and not answer.extra:
            self.idle.append((reader, writer, time.monotonic() + KEEPALIVE_EXPIRY_SECONDS))
        else:
            writer.close()
        return answer.parser.get_status_code(), b"".join(answer.body)

    def _kept(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        now = time.monotonic()
        while self.idle:
            reader, writer, until = self.idle.pop()
            if now < until and not reader.at_eof() and not writer.is_closing():
                return reader, writer
            writer.close()
        return None

    async def close(self) -> None:
        idle, self.idle = self.idle, []
        for _, writer, _ in idle:
            writer.close()


class Floor:
    """What the requests of one worker share."""

    def __init__(self, settings: Settings, erp: Erp | None = None) -> None:
        self.settings = settings
        self.tokens = {os.environ[TOKEN_ENV]: CLIENT_ID}
        self.redis = Resp(settings.rate_limit_storage_url)
        self.budget = Budget(self.redis, settings)
        self.limit_parts: list[bytes] = []
        token = settings.erp.access_token.get_secret_value()
        self.erp = erp or Http(str(settings.erp.url), token)
        self.pool: asyncpg.Pool

    async def start(self) -> None:
        dsn = self.settings.database_url.replace("postgresql+asyncpg://", "postgresql://")
        self.pool = await asyncpg.create_pool(
            dsn, min_size=1, max_size=self.settings.database_pool_size, reset=kept_as_is
        )
        limit_sha = await self.redis.call(pack(b"SCRIPT", b"LOAD", GUARDED_COUNT.encode()))
        self.budget.sha = await self.redis.call(pack(b"SCRIPT", b"LOAD", ACQUIRE.encode()))
        guard = b"LIMITS:{LIMITER/failed-auth/127.0.0.1/20/1/minute}"
        counted = b"LIMITS:{LIMITER/standard-write/%b/1000000/1/minute}" % CLIENT_ID.encode()
        keys = [guard + b"/-1", guard, counted + b"/-1", counted, b"ledgergate:api-clients:version"]
        self.limit_parts = [
            b"EVALSHA",
            limit_sha,
            b"5",
            *keys,
            b"20",
            b"60",
            b"1000000",
            b"60",
            b"1",
        ]

    async def rate_limited(self) -> bool:
        """The gateway's guarded count: one round trip, a fresh version value each time."""
        version = os.urandom(16).hex().encode()
        answer = await self.redis.call(pack(*self.limit_parts, version))
        return not (answer[0] and answer[1])

    async def stop(self) -> None:
        await self.erp.close()
        await self.redis.close()
        await self.pool.close()


async def erp_call(floor: Floor, path: str, body: str) -> dict[str, Any]:
    """One ERP request, within the posting's slot of the budget; its answer's JSON."""
    status, content = await floor.erp.post(path, body.encode())
    if status >= 300:
        raise RuntimeError(f"the ERP answered {status}: {content[:300]!r}")
    answer: dict[str, Any] = json.loads(content)
    return answer


def erp_document(
    invoice: asyncpg.Record, lines: Sequence[asyncpg.Record], customer_number: str, day: date
) -> ErpSalesInvoiceCreate:
    """The document to create and post, as the gateway hands it to the adapter."""
    return ErpSalesInvoiceCreate(
        external_document_number=invoice["id"],
        customer_number=customer_number,
        currency=invoice["currency"],
        posting_date=day,
        due_date=invoice["due_date"],
        lines=tuple(
            ErpInvoiceLine(
                sequence=line["sequence"],
                description=line["description"],
                quantity=line["quantity"],
                unit_price=line["unit_amount"],
                tax_code=line["tax_code"],
            )
            for line in lines
        ),
    )


def batch_body(company_id: str, document: ErpSalesInvoiceCreate) -> str:
    """Create the draft with its lines, post it and read it back: one `$batch`, as the
    adapter sends a first attempt's."""
    operations = new_sales_invoice_operations(company_id, document, {})
    return BcBatchRequest(requests=operations).model_dump_json(by_alias=True, exclude_none=True)


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_id(prefix: str) -> str:
    return f"{prefix}_{os.urandom(13).hex()}"


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


async def post(request: Request) -> Response:
    floor: Floor = request.app.state.floor
    authorization = request.headers.get("authorization", "")
    client_id = floor.tokens.get(authorization.removeprefix("Bearer "))
    if client_id is None:
        return Response(status_code=401)
    if await floor.rate_limited():
        return Response(status_code=429)
    key = request.headers.get("idempotency-key")
    if not key:
        return Response(status_code=400)
    invoice_id: str = request.path_params["invoice_id"]
    path = request.url.path
    answered = await posting(floor, client_id, key, path, invoice_id, await request.body())
    return Response(answered[1], status_code=answered[0], media_type="application/json")


async def posting(
    floor: Floor, client_id: str, key: str, path: str, invoice_id: str, body: bytes
) -> tuple[int, str]:
    """The posting's two transactions and its one ERP request: (status, answer)."""
    now = datetime.now(UTC)
    day = now.date()
    request_hash = hashlib.sha256(b"POST " + path.encode() + b"\n" + body).hexdigest()
    run_id, correlation_id = new_id("run"), new_id("cor")
    async with floor.pool.acquire() as db:
        async with db.transaction():
            claimed = await db.fetchval(
                CLAIM_KEY, client_id, key, "POST", path, request_hash, "in_flight",
                now + timedelta(minutes=5), now, now + timedelta(hours=IDEMPOTENCY_HOURS),
            )  # fmt: skip
            if claimed is None:
                stored = await db.fetchrow(STORED_ANSWER, client_id, key)
                if stored["response_status"] is None:
                    return 409, '{"detail":"a request with this key is in flight"}'
                return stored["response_status"], stored["response_body"]
            rows = await db.fetch(LOCK_INVOICE, invoice_id)
            if not rows or rows[0]["status"] != "open":
                raise RuntimeError(f"invoice {invoice_id} is not open to post")
            invoice = rows[0]
            customer = await db.fetchrow(
                CUSTOMER, "customer_sync", 1, "invoice_posting_reversal", invoice_id,
                "succeeded", "invoice_posting", 1, invoice["customer_id"],
            )  # fmt: skip
            entity = await db.fetch(LEGAL_ENTITY, invoice["legal_entity_id"])
            company_id = entity[0]["erp_company_id"]
            version = invoice["version"] + 1
            await db.execute(MARK_POSTING, "posting", day, version, now, invoice_id, version - 1)
            await db.execute(
                INSERT_RUN, run_id, "invoice_posting", invoice_id, "running",
                '{"posting_date": null}', 1, now + timedelta(minutes=2), correlation_id,
                client_id, invoice["legal_entity_id"], 1, now, now,
            )  # fmt: skip
            document = erp_document(invoice, rows, customer["erp_number"], day)
            batch = batch_body(company_id, document)
            await db.executemany(
                INSERT_DONE_STEPS,
                [
                    (new_id("step"), run_id, 1, "check_tax_codes", "succeeded", sha(invoice_id),
                     None, None, '{"source": "cache"}', None, None, 1, now, now, 1),
                    (new_id("step"), run_id, 2, "upsert_customer", "succeeded", sha(invoice_id),
                     customer["erp_number"], None, '{"source": "cross-reference"}', None, None,
                     1, now, now, 1),
                ],
            )  # fmt: skip
            create_step = await db.fetchval(
                INSERT_STARTED_STEP, new_id("step"), run_id, 3, "create_document", "started",
                sha(batch), invoice_id, 1, now, None, 1,
            )  # fmt: skip
        cost = 3  # the draft with its lines, its post and its read, in one `$batch`
        slot = await floor.budget.acquire(cost, requests=1)
        try:
            answers = {a["id"]: a for a in (await erp_call(floor, "/$batch", batch))["responses"]}
        finally:
            floor.budget.release(slot, cost)
        create, post = batch_operation_ids(0)
        posted = answers[NEW_INVOICE_READ_ID]["body"] or {}
        if answers[post]["status"] >= 300 or posted.get("status") in (None, "Draft"):
            raise RuntimeError(f"the ERP did not post the draft: {answers}")
        now = datetime.now(UTC)
        number = posted["number"]
        outcome = {
            "posting_date": day.isoformat(),
            "erp_document_id": posted["id"],
            "erp_document_number": number,
            "posted_at": now.isoformat(),
        }
        result = {
            "invoice_id": invoice_id,
            "state": "posted",
            "run_id": run_id,
            "run_url": f"/v1/runs/{run_id}",
            "posting": outcome,
            "already_posted": False,
            "retry_at": None,
        }
        answer = dumps(result)
        envelope = {
            "specversion": "1.0",
            "id": (event_id := new_id("evt")),
            "source": "urn:ledgergate",
            "type": EVENT_TYPE,
            "subject": invoice_id,
            "time": now.isoformat(),
            "datacontenttype": "application/json",
            "data": {**outcome, "id": invoice_id, "status": "posted"},
            "correlationid": correlation_id,
            "partnerid": customer["partner_id"],
        }
        async with db.transaction():
            await db.execute(
                STEP_DONE, "succeeded", answers[create]["body"]["id"], dumps(posted), now,
                create_step,
            )  # fmt: skip
            await db.execute(
                INSERT_DONE_STEPS, new_id("step"), run_id, 4, "post_document", "succeeded",
                sha(posted["id"]), invoice_id, number, dumps(posted), None, None, 1, now, now, 1,
            )  # fmt: skip
            await db.fetchrow(
                MARK_POSTED, "posted", number, now, 1, now, posted["id"], invoice_id,
                "paid", "posting", "posting_mismatch",
            )  # fmt: skip
            await db.fetchval(
                INSERT_EVENT, event_id, EVENT_TYPE, invoice_id, lane_of(invoice_id),
                customer["partner_id"], now, dumps(envelope), now,
            )  # fmt: skip
            await db.execute(
                RUN_DONE, "succeeded", dumps(outcome), None, None, None, None, now, 2,
                now, run_id, 1,
            )  # fmt: skip
            await db.execute(
                INSERT_AUDIT, new_id("aud"), now, client_id, AUDIT_ACTION, invoice_id,
                "succeeded", 201, correlation_id, request_hash, "127.0.0.1", 1,
            )  # fmt: skip
            await db.execute(
                STORE_ANSWER, "completed", 201, '{"content-type": "application/json"}', answer,
                None, client_id, key,
            )  # fmt: skip
    return 201, answer


EVENT_TYPE = "com.ledgergate.invoice.posted.v1"
AUDIT_ACTION = "POST /v1/invoices/{invoice_id}/postings"

# The gateway's statements, as SQLAlchemy renders them for asyncpg.
CLAIM_KEY = """INSERT INTO idempotency_keys (client_id, key, method, path, request_hash, status,
locked_until, created_at, expires_at) VALUES ($1::VARCHAR, $2::VARCHAR, $3::VARCHAR,
$4::VARCHAR, $5::VARCHAR, $6::VARCHAR, $7::TIMESTAMP WITH TIME ZONE,
$8::TIMESTAMP WITH TIME ZONE, $9::TIMESTAMP WITH TIME ZONE) ON CONFLICT (client_id, key)
DO NOTHING RETURNING idempotency_keys.key"""
STORED_ANSWER = """SELECT response_status, response_body FROM idempotency_keys
WHERE client_id = $1::VARCHAR AND key = $2::VARCHAR"""
LOCK_INVOICE = """SELECT invoices.id, invoices.customer_id, invoices.legal_entity_id,
invoices.subscription_id, invoices.currency, invoices.invoice_date, invoices.due_date,
invoices.subtotal, invoices.tax_total, invoices.total, invoices.status, invoices.posting_date,
invoices.erp_document_number, invoices.posted_at, invoices.version, invoices.created_at,
invoices.updated_at, invoices.billing_ref, invoices.erp_ref, invoices.crm_ref,
invoice_lines_1.id AS id_1, invoice_lines_1.invoice_id, invoice_lines_1.sequence,
invoice_lines_1.description, invoice_lines_1.quantity, invoice_lines_1.unit_amount,
invoice_lines_1.amount, invoice_lines_1.tax_code, invoice_lines_1.tax_amount,
invoice_lines_1.product_id, invoice_lines_1.service_period_start,
invoice_lines_1.service_period_end, invoice_lines_1.deferred_account FROM invoices
LEFT OUTER JOIN invoice_lines AS invoice_lines_1 ON invoices.id = invoice_lines_1.invoice_id
WHERE invoices.id = $1::VARCHAR ORDER BY invoice_lines_1.sequence FOR UPDATE OF invoices"""
CUSTOMER = """SELECT customers.id, customers.name, customers.email, customers.legal_entity_id,
customers.currency, customers.partner_id, customers.status, customers.erp_number,
customers.version, customers.created_at, customers.updated_at, customers.billing_ref,
customers.erp_ref, customers.crm_ref, (SELECT workflow_runs.status FROM workflow_runs
WHERE workflow_runs.workflow = $1::VARCHAR AND workflow_runs.subject_id = customers.id
ORDER BY workflow_runs.created_at DESC, workflow_runs.id DESC LIMIT $2::INTEGER) AS anon_1,
(SELECT count(*) AS count_1 FROM workflow_runs WHERE workflow_runs.workflow = $3::VARCHAR
AND workflow_runs.subject_id = $4::VARCHAR AND workflow_runs.status = $5::VARCHAR) AS anon_2,
posting_run.id AS id_1, posting_run.workflow, posting_run.subject_id,
posting_run.status AS status_2, posting_run.params, posting_run.result,
posting_run.error_class, posting_run.error_type, posting_run.error_detail,
posting_run.attempts, posting_run.next_attempt_at, posting_run.correlation_id,
posting_run.client_id, posting_run.legal_entity_id AS legal_entity_id_1,
posting_run.finished_at, posting_run.version AS version_1,
posting_run.created_at AS created_at_1, posting_run.updated_at AS updated_at_1
FROM customers LEFT OUTER JOIN workflow_runs AS posting_run ON posting_run.id =
(SELECT workflow_runs.id FROM workflow_runs WHERE workflow_runs.workflow = $6::VARCHAR
AND workflow_runs.subject_id = $4::VARCHAR ORDER BY workflow_runs.created_at DESC,
workflow_runs.id DESC LIMIT $7::INTEGER) WHERE customers.id = $8::VARCHAR"""
LEGAL_ENTITY = """SELECT 'e' AS kind, CAST(NULL AS DATE) AS anon_1, CAST(NULL AS DATE) AS anon__1,
legal_entities.code, legal_entities.erp_company_id, legal_entities.closed_period_policy,
legal_entities.erp_connection FROM legal_entities WHERE legal_entities.id = $1::VARCHAR
UNION ALL SELECT 'p' AS kind, accounting_periods.starts_on, accounting_periods.ends_on,
accounting_periods.status, CAST(NULL AS VARCHAR) AS anon_1, CAST(NULL AS VARCHAR) AS anon__2,
CAST(NULL AS VARCHAR) AS anon__3 FROM accounting_periods
WHERE accounting_periods.legal_entity_id = $1::VARCHAR UNION ALL SELECT 't' AS kind,
CAST(NULL AS DATE) AS anon_1, CAST(NULL AS DATE) AS anon__4, tax_code_mappings.tax_code,
tax_code_mappings.erp_tax_code, CAST(NULL AS VARCHAR) AS anon__5,
CAST(NULL AS VARCHAR) AS anon__6 FROM tax_code_mappings
WHERE tax_code_mappings.legal_entity_id = $1::VARCHAR"""
MARK_POSTING = """UPDATE invoices SET status=$1::VARCHAR, posting_date=$2::DATE,
version=$3::INTEGER, updated_at=$4::TIMESTAMP WITH TIME ZONE WHERE invoices.id = $5::VARCHAR
AND invoices.version = $6::INTEGER"""
INSERT_RUN = """INSERT INTO workflow_runs (id, workflow, subject_id, status, params, attempts,
next_attempt_at, correlation_id, client_id, legal_entity_id, version, created_at, updated_at)
VALUES ($1::VARCHAR, $2::VARCHAR, $3::VARCHAR, $4::VARCHAR, $5::JSON, $6::INTEGER,
$7::TIMESTAMP WITH TIME ZONE, $8::VARCHAR, $9::VARCHAR, $10::VARCHAR, $11::INTEGER,
$12::TIMESTAMP WITH TIME ZONE, $13::TIMESTAMP WITH TIME ZONE)"""
_STEP_UPSERT = """ON CONFLICT (run_id, name) DO UPDATE SET sequence = excluded.sequence,
status = excluded.status, request_digest = excluded.request_digest,
downstream_key = excluded.downstream_key, {outcome}
attempts = (workflow_steps.attempts + ${n}::INTEGER), started_at = excluded.started_at,
finished_at = excluded.finished_at"""
INSERT_DONE_STEPS = """INSERT INTO workflow_steps (id, run_id, sequence, name, status,
request_digest, downstream_key, backend_ref, outcome, error_class, error_detail, attempts,
started_at, finished_at) VALUES ($1::VARCHAR, $2::VARCHAR, $3::INTEGER, $4::VARCHAR, $5::VARCHAR,
$6::VARCHAR, $7::VARCHAR, $8::VARCHAR, $9::JSON, $10::VARCHAR, $11::VARCHAR, $12::INTEGER,
$13::TIMESTAMP WITH TIME ZONE, $14::TIMESTAMP WITH TIME ZONE) """ + _STEP_UPSERT.format(
    outcome="backend_ref = excluded.backend_ref, outcome = excluded.outcome, "
    "error_class = excluded.error_class, error_detail = excluded.error_detail,",
    n=15,
)
INSERT_STARTED_STEP = (
    """INSERT INTO workflow_steps (id, run_id, sequence, name, status, request_digest,
downstream_key, attempts, started_at, finished_at) VALUES ($1::VARCHAR, $2::VARCHAR,
$3::INTEGER, $4::VARCHAR, $5::VARCHAR, $6::VARCHAR, $7::VARCHAR, $8::INTEGER,
$9::TIMESTAMP WITH TIME ZONE, $10::TIMESTAMP WITH TIME ZONE) """
    + _STEP_UPSERT.format(outcome="", n=11)
    + " RETURNING workflow_steps.id"
)
STEP_DONE = """UPDATE workflow_steps SET status=$1::VARCHAR, backend_ref=$2::VARCHAR,
outcome=$3::JSON, finished_at=$4::TIMESTAMP WITH TIME ZONE WHERE workflow_steps.id = $5::VARCHAR"""
MARK_POSTED = """UPDATE invoices SET status=$1::VARCHAR, erp_document_number=$2::VARCHAR,
posted_at=$3::TIMESTAMP WITH TIME ZONE, version=(invoices.version + $4::INTEGER),
updated_at=$5::TIMESTAMP WITH TIME ZONE, erp_ref=$6::VARCHAR WHERE invoices.id = $7::VARCHAR
AND (invoices.status = $8::VARCHAR OR invoices.status = $9::VARCHAR
OR invoices.status = $10::VARCHAR) RETURNING invoices.version, invoices.updated_at"""
INSERT_EVENT = """INSERT INTO event_outbox (event_id, type, subject, lane, partner_id, time,
envelope, recorded_at) VALUES ($1::VARCHAR, $2::VARCHAR, $3::VARCHAR, $4::SMALLINT,
$5::VARCHAR, $6::TIMESTAMP WITH TIME ZONE, $7::JSON, $8::TIMESTAMP WITH TIME ZONE)
ON CONFLICT (event_id) DO NOTHING RETURNING event_outbox.sequence"""
RUN_DONE = """UPDATE workflow_runs SET status=$1::VARCHAR, result=$2::JSON,
error_class=$3::VARCHAR, error_type=$4::VARCHAR, error_detail=$5::VARCHAR,
next_attempt_at=$6::TIMESTAMP WITH TIME ZONE, finished_at=$7::TIMESTAMP WITH TIME ZONE,
version=$8::INTEGER, updated_at=$9::TIMESTAMP WITH TIME ZONE WHERE workflow_runs.id = $10::VARCHAR
AND workflow_runs.version = $11::INTEGER"""
INSERT_AUDIT = """INSERT INTO audit_events (id, occurred_at, client_id, action, object_id, outcome,
status_code, correlation_id, request_hash, source_ip, count) VALUES ($1::VARCHAR,
$2::TIMESTAMP WITH TIME ZONE, $3::VARCHAR, $4::VARCHAR, $5::VARCHAR, $6::VARCHAR,
$7::INTEGER, $8::VARCHAR, $9::VARCHAR, $10::VARCHAR, $11::INTEGER)"""
STORE_ANSWER = """UPDATE idempotency_keys SET status=$1::VARCHAR, response_status=$2::INTEGER,
response_headers=$3::JSON, response_body=$4::VARCHAR,
locked_until=$5::TIMESTAMP WITH TIME ZONE WHERE idempotency_keys.client_id = $6::VARCHAR
AND idempotency_keys.key = $7::VARCHAR"""


def create_app(settings: Settings, erp: Erp | None = None) -> Starlette:
    """`erp`: the ERP client to use (a test's in-process sandbox), else one to `erp.url`."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        floor = Floor(settings, erp)
        await floor.start()
        app.state.floor = floor
        try:
            yield
        finally:
            await floor.stop()

    return Starlette(
        routes=[Route("/floor/invoices/{invoice_id}/postings", post, methods=["POST"])],
        lifespan=lifespan,
    )
