"""The peer of the posting benchmark: the same posting as a DBOS Transact workflow.

What a team would otherwise build on a durable-execution library: `POST
/peer/invoices/{id}/postings` (its `Idempotency-Key` the workflow's id, so a repeat
returns the first result) runs one DBOS workflow whose every call is a durable step,
checkpointed in DBOS's system tables on the same PostgreSQL as the gateway's (schema
`dbos_peer` of the benchmark's throwaway database): read the registered invoice, create
the Business Central draft with its lines (a deep insert), post it and read the posted
document back, in one `$batch` (the ERP request the gateway makes), and mark the invoice
posted. No edge, no exception queue and no events: only the durable-execution part, which
is what it is measured for.

Served by `python -m bench.serve dbos-peer`, configured by the gateway's variables
(`LEDGERGATE_DATABASE_URL`, `LEDGERGATE_ERP__URL`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

import httpx
from dbos import DBOS, DBOSConfig, SetWorkflowID
from sqlalchemy import select, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from core.canonical.documents import InvoiceStatus
from core.db import create_engine, table_of
from core.models.base import utcnow
from core.models.customer import CustomerRow
from core.models.invoice import InvoiceLineRow, InvoiceRow
from core.settings import Settings
from sandboxes.demo_estate import DEMO_COMPANIES
from system_apis.erp.adapters.business_central_wire import BcBatchRequest
from system_apis.erp.mapping import NEW_INVOICE_READ_ID, new_sales_invoice_operations
from system_apis.erp.schemas import ErpInvoiceLine, ErpSalesInvoiceCreate

SCHEMA = "dbos_peer"
COMPANY = DEMO_COMPANIES[0]  # the benchmark's invoices are the US company's


class Peer:
    """What the steps share in one process: the gateway's database and the ERP client."""

    database: AsyncEngine
    erp: httpx.AsyncClient


PEER = Peer()
INVOICES = table_of(InvoiceRow)
LINES = table_of(InvoiceLineRow)


@DBOS.step()
async def load_invoice(invoice_id: str) -> dict[str, Any]:
    async with PEER.database.connect() as connection:
        invoice = (
            await connection.execute(select(INVOICES).where(INVOICES.c.id == invoice_id))
        ).one()
        lines = (
            await connection.execute(select(LINES).where(LINES.c.invoice_id == invoice_id))
        ).all()
        customer_number = (
            await connection.execute(
                select(CustomerRow.erp_number).where(CustomerRow.id == invoice.customer_id)
            )
        ).scalar_one()
    document = ErpSalesInvoiceCreate(
        external_document_number=invoice_id,
        customer_number=customer_number,
        currency=invoice.currency,
        posting_date=invoice.invoice_date,
        due_date=invoice.due_date,
        lines=tuple(
            ErpInvoiceLine(
                sequence=line.sequence,
                description=line.description,
                quantity=line.quantity,
                unit_price=line.unit_amount,
                tax_code=line.tax_code,
            )
            for line in lines
        ),
    )
    return document.model_dump(mode="json")


async def _erp(method: str, path: str, body: str | None = None) -> dict[str, Any]:
    response = await PEER.erp.request(
        method, path, content=body, headers={"Content-Type": "application/json"}
    )
    response.raise_for_status()
    return response.json() if response.content else {}


@DBOS.step()
async def create_post_and_read(company_id: str, document: dict[str, Any]) -> dict[str, Any]:
    invoice = ErpSalesInvoiceCreate.model_validate(document)
    operations = new_sales_invoice_operations(company_id, invoice, {})
    body = BcBatchRequest(requests=operations).model_dump_json(by_alias=True, exclude_none=True)
    answers = {
        answer["id"]: answer for answer in (await _erp("POST", "/$batch", body))["responses"]
    }
    failed = [answer for answer in answers.values() if answer["status"] >= 400]
    if failed:
        raise RuntimeError(f"the ERP refused the document, its post or its read: {failed}")
    posted = answers[NEW_INVOICE_READ_ID]["body"]
    return {"id": posted["id"], "number": posted["number"], "status": posted["status"]}


@DBOS.step()
async def mark_posted(invoice_id: str, document: dict[str, Any], posting_date: str) -> None:
    async with PEER.database.begin() as connection:
        await connection.execute(
            update(INVOICES)
            .where(INVOICES.c.id == invoice_id)
            .values(
                status=InvoiceStatus.POSTED,
                posting_date=date.fromisoformat(posting_date),
                erp_ref=document["id"],
                erp_document_number=document["number"],
                posted_at=utcnow(),
                version=INVOICES.c.version + 1,
            )
        )


@DBOS.workflow()
async def post_invoice(invoice_id: str) -> dict[str, Any]:
    document = await load_invoice(invoice_id)
    posted = await create_post_and_read(COMPANY.id, document)
    await mark_posted(invoice_id, posted, document["posting_date"])
    return {"invoice_id": invoice_id, "state": "posted", "erp_document": posted}


async def post(request: Request) -> JSONResponse:
    invoice_id = request.path_params["invoice_id"]
    with SetWorkflowID(request.headers["Idempotency-Key"]):
        result = await post_invoice(invoice_id)
    return JSONResponse(result, status_code=201)


def system_database_url(database_url: str) -> str:
    """DBOS's (synchronous, psycopg) URL for the gateway's PostgreSQL database."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise SystemExit("the DBOS peer needs PostgreSQL")
    return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def create_app(settings: Settings) -> Starlette:
    config: DBOSConfig = {
        "name": "ledgergate-posting-peer",
        "system_database_url": system_database_url(settings.database_url),
        "dbos_system_schema": SCHEMA,
        "log_level": "WARNING",
    }
    DBOS(config=config)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        PEER.database = create_engine(settings.database_url)
        PEER.erp = httpx.AsyncClient(
            base_url=str(settings.erp.url),
            headers={"Authorization": f"Bearer {settings.erp.access_token.get_secret_value()}"},
        )
        DBOS.launch()
        try:
            yield
        finally:
            DBOS.destroy()
            await PEER.erp.aclose()
            await PEER.database.dispose()

    return Starlette(
        routes=[Route("/peer/invoices/{invoice_id}/postings", post, methods=["POST"])],
        lifespan=lifespan,
    )
