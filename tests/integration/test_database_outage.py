"""A database that cannot serve answers 503 problems a client may retry, never a 500.

The outage is simulated without touching the shared server: the app's sessions are
pointed at an engine that cannot connect (nothing listens on the port), or at a
one-connection pool whose connection the test holds. `make chaos` restarts a real
PostgreSQL server mid-burst.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from core.db import create_engine, create_sessionmaker
from tests.conftest import Gateway, GatewayFactory
from tests.support.invoices import US_COMPANY, invoice_body

PROBLEMS = "https://ledgergate.dev/problems/"


@asynccontextmanager
async def sessions_on(gateway: Gateway, engine: AsyncEngine) -> AsyncIterator[None]:
    """Route the process tier's sessions (not authentication's) through `engine`."""
    context = gateway.app.state.process
    gateway.app.state.process = replace(context, sessionmaker=create_sessionmaker(engine))
    try:
        yield
    finally:
        gateway.app.state.process = context
        await engine.dispose()


async def test_requests_during_an_outage_get_a_retryable_503_and_succeed_after_it(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway()
    invoice_id = (await gateway.client.post("/v1/invoices", json=invoice_body())).json()["id"]
    posting = {"json": {}, "headers": {"Idempotency-Key": f"outage-{invoice_id}"}}

    down = create_engine("postgresql+asyncpg://ledgergate:secret@127.0.0.1:1/ledgergate")
    async with sessions_on(gateway, down):
        read = await gateway.client.get(f"/v1/invoices/{invoice_id}")
        post = await gateway.client.post(f"/v1/invoices/{invoice_id}/postings", **posting)

    for response in (read, post):
        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["retry-after"] == "2"
        problem = response.json()
        assert problem["type"] == PROBLEMS + "database-unavailable"
        assert problem["correlation_id"] == response.headers["x-correlation-id"]
        assert "127.0.0.1" not in problem["detail"]  # the database's address stays inside

    # The database is back: the same posting, with the same key, now runs once.
    retried = await gateway.client.post(f"/v1/invoices/{invoice_id}/postings", **posting)
    assert retried.status_code == 201, retried.text
    assert gateway.backends.erp_sandbox is not None
    assert gateway.backends.erp_sandbox.document_count(US_COMPANY, invoice_id) == 1


async def test_a_request_that_waits_too_long_for_a_connection_is_shed_with_503(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway()
    database_url = gateway.app.state.process.settings.database_url
    invoice_id = (await gateway.client.post("/v1/invoices", json=invoice_body())).json()["id"]
    one_connection = create_async_engine(
        database_url, pool_size=1, max_overflow=0, pool_timeout=0.05
    )
    async with sessions_on(gateway, one_connection):
        async with one_connection.connect():  # a slow request holds the only connection
            shed = await gateway.client.get(f"/v1/invoices/{invoice_id}")
        served = await gateway.client.get(f"/v1/invoices/{invoice_id}")

    assert shed.status_code == 503, shed.text
    assert shed.headers["content-type"] == "application/problem+json"
    assert shed.json()["type"] == PROBLEMS + "overloaded"
    assert shed.headers["retry-after"] == "1"
    assert served.status_code == 200


async def test_a_failed_statement_is_still_a_500(
    make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    gateway = await make_gateway()
    empty = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'no-tables.db'}")  # no such table
    async with sessions_on(gateway, empty):
        response = await gateway.client.get("/v1/invoices/inv_00000000000000000000000001")
    assert response.status_code == 500
    assert response.json()["type"] == PROBLEMS + "internal-error"
    assert "retry-after" not in response.headers
