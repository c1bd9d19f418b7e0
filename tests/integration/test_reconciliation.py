"""Reconciliation of posted invoices, credit memos and settlements against the ERP."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
from sqlalchemy import update

from app.seed import demo_id
from core.ids import new_id
from core.models.credit_memo import CreditMemoRow
from core.models.invoice import InvoiceRow
from core.models.settlement import SettlementRow
from system_apis.erp.schemas import (
    ErpInvoiceLine,
    ErpJournalCreate,
    ErpJournalEntryCreate,
    ErpJournalLine,
    ErpSalesCreditMemoCreate,
    ErpSalesInvoiceCreate,
)
from tests.conftest import Gateway
from tests.integration.test_credit_memos import open_case, posted_invoice
from tests.integration.test_settlements import SETTLER, pay, product_invoice, run_settlements
from tests.support.calendar import months_later
from tests.support.invoices import ACME, US_COMPANY, invoice_body

US_ENTITY = demo_id("legal_entity", 1)
FABRIKAM = demo_id("partner", 2)
PERIOD = date.today().strftime("%Y-%m")
ERP_CUSTOMER = "C-0000000000000001"  # ACME's number in the ERP


async def ops(gateway: Gateway) -> httpx.AsyncClient:
    return await gateway.client_with(["ops:read"], client_id="recon")


async def reconciliation(gateway: Gateway) -> dict[str, Any]:
    client = await ops(gateway)
    response = await client.get(
        "/ops/v1/reconciliation", params={"period": PERIOD, "legal_entity": US_ENTITY}
    )
    await client.aclose()
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def credit(gateway: Gateway, invoice: dict[str, Any], amount: int, key: str) -> str:
    """A credit under the approval threshold on a posted invoice: issued at once."""
    response = await gateway.client.post(
        "/v1/credit-memos",
        json={
            "invoice_id": invoice["id"],
            "amount": amount,
            "currency": "USD",
            "reason_code": "outage",
            "case_id": await open_case(gateway),
        },
        headers={"Idempotency-Key": key},
    )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "posted"
    assert response.json()["posting_date"] == date.today().isoformat()
    memo_id: str = response.json()["id"]
    return memo_id


async def settled(gateway: Gateway, key: str) -> dict[str, Any]:
    """The period's settlement run: Northwind's statement for a paid product invoice."""
    invoice = await posted_invoice(gateway, product_invoice())
    assert (await pay(gateway, invoice, invoice["total"], f"{key}-pay")).status_code == 201
    finance = await gateway.client_with(SETTLER, client_id="finance")
    months_later(gateway.app)
    run = await run_settlements(finance, key)
    await finance.aclose()
    assert run.status_code == 201, run.text
    [statement] = run.json()["settlements"]
    assert statement["status"] == "posted"
    return dict(statement)


async def test_a_period_posted_through_the_gateway_reconciles_clean(gateway: Gateway) -> None:
    await posted_invoice(gateway)
    credited = await posted_invoice(gateway)
    memo_id = await credit(gateway, credited, 5000, "cm-1")
    statement = await settled(gateway, "stl-1")

    body = await reconciliation(gateway)

    assert body["clean"] is True, body["differences"]
    totals = {(t["document_type"], t["currency"]): t for t in body["totals"]}
    assert set(totals) == {("invoice", "USD"), ("credit_memo", "USD"), ("settlement", "USD")}
    invoices = totals["invoice", "USD"]
    assert (invoices["gateway_count"], invoices["erp_count"]) == (3, 3)
    assert invoices["gateway_total"] == invoices["erp_total"]
    memos = totals["credit_memo", "USD"]
    async with gateway.sessionmaker() as session:
        memo = await session.get_one(CreditMemoRow, memo_id)
    assert (memos["gateway_count"], memos["erp_count"]) == (1, 1)
    assert memos["gateway_total"] == memos["erp_total"] == memo.erp_total_including_tax
    assert memos["erp_total"] > 5000  # taxed like the invoice
    settlements = totals["settlement", "USD"]
    assert (settlements["gateway_count"], settlements["erp_count"]) == (1, 1)
    assert settlements["gateway_total"] == settlements["erp_total"]
    assert settlements["erp_total"] == statement["total_commission"] > 0


async def test_invoice_differences_on_either_side_are_reported(gateway: Gateway) -> None:
    matching = (await posted_invoice(gateway))["id"]
    mismatched = (await posted_invoice(gateway))["id"]
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
            customer_number=ERP_CUSTOMER,
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

    body = await reconciliation(gateway)

    kinds = {(d["kind"], d["document_type"], d["gateway_id"]) for d in body["differences"]}
    assert kinds == {
        ("amount_mismatch", "invoice", mismatched),
        ("missing_in_erp", "invoice", unposted),
        ("missing_in_gateway", "invoice", "MANUAL-1"),
    }
    assert matching not in {d["gateway_id"] for d in body["differences"]}
    assert body["clean"] is False


async def test_credit_memo_differences_on_either_side_are_reported(gateway: Gateway) -> None:
    invoice = await posted_invoice(gateway)
    matching = await credit(gateway, invoice, 1000, "cm-match")
    mismatched = await credit(gateway, invoice, 2000, "cm-mismatch")
    async with gateway.sessionmaker.begin() as session:
        await session.execute(
            update(CreditMemoRow)
            .where(CreditMemoRow.id == mismatched)
            .values(erp_total_including_tax=CreditMemoRow.erp_total_including_tax + 1)
        )
        # a credit the gateway believes issued, which never reached the ERP
        unposted = CreditMemoRow(
            id=new_id("credit_memo"),
            invoice_id=invoice["id"],
            customer_id=ACME,
            legal_entity_id=US_ENTITY,
            currency="USD",
            amount=700,
            reason_code="goodwill",
            status="posted",
            posting_date=date.today(),
            erp_document_number="PS-CR-LOST",
            erp_total_including_tax=762,
        )
        session.add(unposted)
    erp = gateway.app.state.process.erp
    manual = await erp.create_sales_credit_memo(
        US_COMPANY,
        ErpSalesCreditMemoCreate(
            external_document_number="MANUAL-CM",
            customer_number=ERP_CUSTOMER,
            currency="USD",
            posting_date=date.today(),
            due_date=date.today(),
            lines=(
                ErpInvoiceLine(
                    sequence=1, description="Manual", quantity=1, unit_price=300, tax_code="EXEMPT"
                ),
            ),
        ),
    )
    manual = await erp.post_sales_credit_memo(US_COMPANY, manual.id)

    body = await reconciliation(gateway)

    differences = {(d["kind"], d["gateway_id"]): d for d in body["differences"]}
    assert set(differences) == {
        ("amount_mismatch", mismatched),
        ("missing_in_erp", unposted.id),
        ("missing_in_gateway", "MANUAL-CM"),
    }
    assert {d["document_type"] for d in body["differences"]} == {"credit_memo"}
    mismatch = differences["amount_mismatch", mismatched]
    assert mismatch["gateway_amount"] == mismatch["erp_amount"] + 1
    lost = differences["missing_in_erp", unposted.id]
    assert (lost["erp_number"], lost["gateway_amount"], lost["erp_amount"]) == (
        "PS-CR-LOST",
        762,
        None,
    )
    extra = differences["missing_in_gateway", "MANUAL-CM"]
    assert (extra["erp_number"], extra["gateway_amount"], extra["erp_amount"]) == (
        manual.number,
        None,
        300,
    )
    assert matching not in {d["gateway_id"] for d in body["differences"]}
    [memos] = [t for t in body["totals"] if t["document_type"] == "credit_memo"]
    assert (memos["gateway_count"], memos["erp_count"]) == (3, 3)
    assert body["clean"] is False


async def test_settlement_differences_on_either_side_are_reported(gateway: Gateway) -> None:
    statement = await settled(gateway, "stl-diff")
    async with gateway.sessionmaker.begin() as session:
        await session.execute(
            update(SettlementRow)
            .where(SettlementRow.id == statement["id"])
            .values(total_commission=SettlementRow.total_commission + 1)
        )
        # a statement the gateway believes journaled, which the ERP's ledger never got
        unposted = SettlementRow(
            id=new_id("settlement"),
            partner_id=FABRIKAM,
            legal_entity_id=US_ENTITY,
            period_start=date.today().replace(day=1),
            period_end=date.today(),
            currency="USD",
            total_commission=1234,
            line_count=1,
            status="posted",
            journal_document_number="STL-NEVERJOURNALED",
            posting_date=date.today(),
        )
        session.add(unposted)
    erp = gateway.app.state.process.erp
    ledger = gateway.app.state.process.settings.ledger
    journal = await erp.ensure_journal(
        US_COMPANY, ErpJournalCreate(code="MANUAL", display_name="Entered by hand")
    )
    entry = ErpJournalEntryCreate(
        document_number="STL-BYHAND",
        posting_date=date.today(),
        currency="USD",
        lines=(
            ErpJournalLine(
                account_number=ledger.commission_expense_account, amount=999, description="Hand"
            ),
            ErpJournalLine(
                account_number=ledger.commission_payable_account, amount=-999, description="Hand"
            ),
        ),
    )
    await erp.add_journal_entry(US_COMPANY, journal.id, entry)
    await erp.post_journal_entry(US_COMPANY, journal.id, "STL-BYHAND", "USD")

    body = await reconciliation(gateway)

    differences = {(d["kind"], d["gateway_id"], d["erp_number"]): d for d in body["differences"]}
    total = statement["total_commission"]
    assert {
        (kind, gateway_id, number, d["gateway_amount"], d["erp_amount"])
        for (kind, gateway_id, number), d in differences.items()
    } == {
        (
            "amount_mismatch",
            statement["id"],
            statement["journal_document_number"],
            total + 1,
            total,
        ),
        ("missing_in_erp", unposted.id, "STL-NEVERJOURNALED", 1234, None),
        ("missing_in_gateway", None, "STL-BYHAND", None, 999),
    }
    assert {d["document_type"] for d in body["differences"]} == {"settlement"}
    [settlements] = [t for t in body["totals"] if t["document_type"] == "settlement"]
    assert (settlements["gateway_count"], settlements["gateway_total"]) == (2, total + 1 + 1234)
    assert (settlements["erp_count"], settlements["erp_total"]) == (2, total + 999)
    assert body["clean"] is False


async def test_a_malformed_period_is_refused(gateway: Gateway) -> None:
    client = await ops(gateway)
    response = await client.get(
        "/ops/v1/reconciliation", params={"period": "2026-13", "legal_entity": US_ENTITY}
    )
    assert response.status_code == 422
    await client.aclose()
