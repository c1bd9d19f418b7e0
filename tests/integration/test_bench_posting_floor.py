"""The posting benchmark's floor (`bench/posting_floor.py`) posts a seeded invoice end to end:
on PostgreSQL and Redis, into the in-process Business Central sandbox."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest
from asyncpg import Connection  # type: ignore[import-untyped]
from sqlalchemy import select

from app.runtime import prepare_database
from bench.harness import invoice_body
from bench.posting_floor import TOKEN_ENV, Resp, create_app
from core.canonical.documents import InvoiceCreate, InvoiceStatus
from core.db import create_engine, create_sessionmaker
from core.models.invoice import InvoiceRow
from core.settings import Settings
from process_apis.customers.service import default_erp_number
from process_apis.invoices.service import create_invoice
from sandboxes.business_central import API_ROOT, BusinessCentralState
from sandboxes.business_central import create_app as create_sandbox
from sandboxes.demo_estate import DEMO_COMPANIES
from tests.support.databases import postgres_database
from tests.support.services import service_missing

pytestmark = pytest.mark.postgres
REDIS_URL = os.environ.get("LEDGERGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TOKEN = "floor-test-token"


@pytest.fixture
async def database() -> AsyncIterator[str]:
    async with postgres_database() as url:
        await prepare_database(url, seed=True, demo_clients=False)
        yield url


async def open_invoice(url: str) -> str:
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            data = InvoiceCreate.model_validate(invoice_body(date.today()))
            invoice_id = (await create_invoice(session, data=data)).id
            await session.commit()
            return invoice_id
    finally:
        await engine.dispose()


async def invoice_row(url: str, invoice_id: str) -> Any:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            query = select(InvoiceRow).where(InvoiceRow.id == invoice_id)
            return (await connection.execute(query)).one()
    finally:
        await engine.dispose()


class InProcessErp:
    """The floor's ERP client on the in-process sandbox."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json"}
        response = await self.client.post(path, content=body, headers=headers)
        return response.status_code, response.content

    async def close(self) -> None:
        await self.client.aclose()


def logging_to(statements: list[str], method: Any) -> Any:
    async def logged(self: Connection, query: str, *args: Any, **kwargs: Any) -> Any:
        statements.append(query)
        return await method(self, query, *args, **kwargs)

    return logged


async def test_the_floor_posts_a_registered_invoice_once_per_idempotency_key(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    try:
        await Resp(REDIS_URL).call(b"*1\r\n$4\r\nPING\r\n")
    except OSError as error:
        service_missing("Redis", f"{REDIS_URL}: {error}")
    invoice_id = await open_invoice(database)
    erp_root = "http://erp" + API_ROOT.format(environment="sandbox")
    erp = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_sandbox(BusinessCentralState())),
        base_url=erp_root,
    )
    company = DEMO_COMPANIES[0].id
    number = default_erp_number(
        InvoiceCreate.model_validate(invoice_body(date.today())).customer_id
    )
    customer = {"number": number, "displayName": "Demo customer", "currencyCode": "USD"}
    (await erp.post(f"/companies({company})/customers", json=customer)).raise_for_status()

    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    settings = Settings(
        database_url=database, rate_limit_storage_url=REDIS_URL, erp={"url": erp_root}
    )
    app = create_app(settings, InProcessErp(erp))
    calls: list[bytes] = []
    call = Resp.call

    async def counted(self: Resp, command: bytes) -> Any:
        calls.append(command)
        return await call(self, command)

    monkeypatch.setattr(Resp, "call", counted)
    statements: list[str] = []
    for name in ("_execute", "_executemany"):  # what `execute` with arguments and `fetch*` run
        monkeypatch.setattr(Connection, name, logging_to(statements, getattr(Connection, name)))
    execute = Connection.execute

    async def execute_logged(self: Connection, query: str, *args: Any, **kwargs: Any) -> Any:
        if not args:  # BEGIN, COMMIT, SET: with arguments `_execute` logs it
            statements.append(query)
        return await execute(self, query, *args, **kwargs)

    monkeypatch.setattr(Connection, "execute", execute_logged)
    async with app.router.lifespan_context(app):
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://floor")
        headers = {"Authorization": f"Bearer {TOKEN}", "Idempotency-Key": "k1"}
        path = f"/floor/invoices/{invoice_id}/postings"
        calls.clear()
        first = await client.post(path, headers=headers, content=b"{}")
        assert first.status_code == 201, first.text
        assert len(calls) == 2  # the rate limit, then the budget once for the ERP requests
        kinds = Counter(query.split()[0].rstrip(";") for query in statements)
        # the gateway's: 15 statements in 2 transactions, nothing else (no pool reset)
        assert (kinds.pop("BEGIN"), kinds.pop("COMMIT"), kinds.total()) == (2, 2, 15)
        again = await client.post(path, headers=headers, content=b"{}")
        refused = await client.post(path, headers={"Idempotency-Key": "k2"}, content=b"{}")

    assert (again.status_code, again.json()) == (201, first.json())
    assert refused.status_code == 401
    row = await invoice_row(database, invoice_id)
    assert row.status == InvoiceStatus.POSTED
    assert row.erp_document_number == first.json()["posting"]["erp_document_number"]
