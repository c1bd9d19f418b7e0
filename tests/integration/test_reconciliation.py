"""Reconciliation of posted invoices against the ERP's ledger."""

from datetime import date

import httpx
from sqlalchemy import update

from app.core.models.invoice import InvoiceRow
from app.seed import demo_id
from system_apis.erp.schemas import ErpInvoiceLine, ErpSalesInvoiceCreate
from tests.conftest import Gateway
from tests.support.invoices import US_COMPANY, invoice_body

US_ENTITY = demo_id("legal_entity", 1)
PERIOD = date.today().strftime("%Y-%m")


async def posted_invoice(gateway: Gateway, key: str) -> str:
    invoice_id: str = (await gateway.client.post("/v1/invoices", json=invoice_body())).json()["id"]
    response = await gateway.client.post(
        f"/v1/invoices/{invoice_id}/postings", json={}, headers={"Idempotency-Key": key}
    )
    assert response.status_code == 201
    return invoice_id


async def ops(gateway: Gateway) -> httpx.AsyncClient:
    return await gateway.client_with(["ops:read"], client_id="recon")


async def test_a_period_posted_through_the_gateway_reconciles_clean(gateway: Gateway) -> None:
    await posted_invoice(gateway, "r-1")
    await posted_invoice(gateway, "r-2")
    client = await ops(gateway)
    body = (
        await client.get(
            "/ops/v1/reconciliation", params={"period": PERIOD, "legal_entity": US_ENTITY}
        )
    ).json()
    assert body["clean"] is True
    [usd] = body["totals"]
    assert (usd["gateway_count"], usd["erp_count"]) == (2, 2)
    assert usd["gateway_total"] == usd["erp_total"] == 2 * invoice_body()["total"]
    await client.aclose()


async def test_differences_on_either_side_are_reported(gateway: Gateway) -> None:
    matching = await posted_invoice(gateway, "r-3")
    mismatched = await posted_invoice(gateway, "r-4")
    async with gateway.sessionmaker.begin() as session:
        await session.execute(
            update(InvoiceRow).where(InvoiceRow.id == mismatched).values(total=InvoiceRow.total + 1)
        )
    unposted = (await gateway.client.post("/v1/invoices", json=invoice_body())).json()["id"]
    async with gateway.sessionmaker.begin() as session:  # the gateway believes it posted
        await session.execute(
            update(InvoiceRow)
            .where(InvoiceRow.id == unposted)
            .values(status="posted", posting_date=date.today())
        )
    erp = gateway.app.state.process.erp
    manual = await erp.create_sales_invoice(
        US_COMPANY,
        ErpSalesInvoiceCreate(
            external_document_number="MANUAL-1",
            customer_number="C-0000000000000001",
            currency="USD",
            posting_date=date.today(),
            due_date=date.today(),
            lines=(
                ErpInvoiceLine(
                    sequence=1, description="Manual", quantity=1, unit_price=500, tax_code="EXEMPT"
                ),
            ),
        ),
    )
    await erp.post_sales_invoice(US_COMPANY, manual.id)

    client = await ops(gateway)
    body = (
        await client.get(
            "/ops/v1/reconciliation", params={"period": PERIOD, "legal_entity": US_ENTITY}
        )
    ).json()
    kinds = {(d["kind"], d["gateway_id"]) for d in body["differences"]}
    assert kinds == {
        ("amount_mismatch", mismatched),
        ("missing_in_erp", unposted),
        ("missing_in_gateway", "MANUAL-1"),
    }
    assert matching not in {d["gateway_id"] for d in body["differences"]}
    assert body["clean"] is False
    await client.aclose()


async def test_a_malformed_period_is_refused(gateway: Gateway) -> None:
    client = await ops(gateway)
    response = await client.get(
        "/ops/v1/reconciliation", params={"period": "2026-13", "legal_entity": US_ENTITY}
    )
    assert response.status_code == 422
    await client.aclose()
