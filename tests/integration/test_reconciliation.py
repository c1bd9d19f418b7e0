"""Three-way reconciliation (billing, gateway, ERP) of every document kind, on both
databases: a clean month with the gateway's own adjustments and reversals, and each
kind of difference with its probable cause."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import httpx
from sqlalchemy import select, update

from app.seed import demo_id
from core.ids import new_id
from core.models.credit_memo import CreditMemoRow
from core.models.invoice import InvoiceRow
from core.models.payment import PaymentRow
from core.models.reconciliation import ReconciliationItemRow, ReconciliationRunRow
from core.models.settlement import SettlementRow
from core.models.workflow_run import RunStatus
from core.settings import BackendSettings
from process_apis.billing_inbox import BillingInbox
from process_apis.reconciliation import schedule
from process_apis.worker import replayer
from sandboxes import stripe
from system_apis.erp.schemas import (
    ErpInvoiceLine,
    ErpJournalCreate,
    ErpJournalEntryCreate,
    ErpJournalLine,
    ErpSalesCreditMemoCreate,
    ErpSalesInvoiceCreate,
)
from system_apis.http import InProcessTransport
from tests.conftest import FAST_RETRIES, Gateway, GatewayFactory
from tests.integration.test_credit_memos import (
    FAST,
    ServiceCreditsDown,
    bill_in_stripe,
    credit_body,
    open_case,
    posted_invoice,
    request_credit,
)
from tests.integration.test_settlements import SETTLER, pay, product_invoice, run_settlements
from tests.integration.test_subscriptions import ENTERPRISE_USD, PRO_USD, amend, ordered
from tests.support.calendar import months_later
from tests.support.erps import on_erp
from tests.support.invoices import US_COMPANY, invoice_body
from tests.support.stripe_sandbox import create_invoice, post, sandbox_http

US_ENTITY = demo_id("legal_entity", 1)
FABRIKAM = demo_id("partner", 2)
PERIOD = date.today().strftime("%Y-%m")
ERP_CUSTOMER = "C-0000000000000001"  # ACME's number in the ERP

PATIENT = (
    BackendSettings.model_validate(FAST_RETRIES)
    .model_copy(update={"retry_budget_seconds": 30.0, "read_timeout_seconds": 30.0})
    .model_dump()
)


async def recognize(gateway: Gateway, period: str = PERIOD) -> None:
    """Recognize the month's revenue, as the schedule does once the month has ended."""
    ops = await gateway.client_with(["ops:write"], client_id="revenue")
    recognized = await ops.post(
        "/ops/v1/revenue/recognition-runs",
        json={"legal_entity_id": US_ENTITY, "period": period},
        headers={"Idempotency-Key": f"recognize-{period}"},
    )
    await ops.aclose()
    assert recognized.status_code == 201, recognized.text


async def reconciliation(gateway: Gateway, period: str = PERIOD) -> dict[str, Any]:
    client = await gateway.client_with(["ops:read"], client_id="recon")
    response = await client.get(
        "/ops/v1/reconciliation", params={"period": period, "legal_entity": US_ENTITY}
    )
    await client.aclose()
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def causes(body: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(document type, key, cause) of every difference."""
    return {(d["document_type"], d["key"], d["cause"]) for d in body["differences"]}


async def credit(gateway: Gateway, invoice: dict[str, Any], amount: int, key: str) -> str:
    """A credit under the approval threshold on a posted invoice: issued at once."""
    response = await request_credit(
        gateway.client, credit_body(invoice["id"], await open_case(gateway), amount), key
    )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "posted"
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


async def paid_in_billing(gateway: Gateway) -> tuple[dict[str, Any], str]:
    """A posted invoice billed in Stripe and paid there; the payment applied from the inbox."""
    invoice = await posted_invoice(gateway, product_invoice())
    billing_invoice = await bill_in_stripe(gateway, invoice)
    state = gateway.backends.billing_sandbox
    assert state is not None
    async with sandbox_http(InProcessTransport(app=stripe.create_app(state))) as http:
        await post(http, f"/v1/invoices/{billing_invoice}/pay", {"paid_out_of_band": True})
    assert len((await BillingInbox(gateway.app.state.process).drain()).payments) == 1
    return invoice, billing_invoice


async def reversed_credit(gateway: Gateway) -> str:
    """A credit posted in the ERP, then discarded (the desk never answered): reversed."""
    invoice = await posted_invoice(gateway)
    response = await request_credit(
        gateway.client, credit_body(invoice["id"], await open_case(gateway), 1000), "rev"
    )
    assert response.status_code == 202, response.text
    memo = response.json()
    replay = replayer(gateway.app.state.process)
    await replay.close(
        memo["last_run"]["id"], status=RunStatus.DISCARDED, note="withdrawn", operator="ops"
    )
    assert (await replay.run_once()).outcomes == {"succeeded": 1}
    memo_id: str = memo["id"]
    return memo_id


def with_failing_desk(name: str, inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
    return ServiceCreditsDown(inner) if name == "support" else inner


async def test_a_month_with_adjustments_and_reversals_reconciles_clean(
    make_gateway: GatewayFactory, erp_kind: str
) -> None:
    # Billing is not under test for its timeouts: a busy host's slow answer to an amendment
    # must not queue the amendment for a retry the month's reconciliation would not see.
    erp = await on_erp(
        make_gateway, erp_kind, wrap=with_failing_desk, support=FAST, billing=PATIENT
    )
    gateway = erp.gateway
    await posted_invoice(gateway)
    await reversed_credit(gateway)
    await settled(gateway, "stl-1")
    await paid_in_billing(gateway)
    subscription = (await ordered(gateway, price_id=ENTERPRISE_USD))["subscription"]
    upgrade = await amend(gateway, subscription["id"], "more-seats", quantity=5)
    assert upgrade.status_code == 201, upgrade.text
    downgrade = await amend(gateway, subscription["id"], "down", price_id=PRO_USD)
    assert downgrade.status_code == 201, downgrade.text
    await BillingInbox(gateway.app.state.process).drain()  # the order's invoice, and its payment
    # the order's invoice serves billing's period: the ended month's revenue is recognized
    await recognize(gateway)

    body = await reconciliation(gateway)

    assert body["clean"] is True, [
        (
            d["document_type"],
            d["key"],
            d["cause"],
            d["gateway_amount"],
            d["billing_amount"],
            d["erp_amount"],
        )
        for d in body["differences"]
    ]
    assert (body["difference_count"], body["differences"]) == (0, [])
    totals = {(t["document_type"], t["currency"]): t for t in body["totals"]}
    assert set(totals) == {
        ("invoice", "USD"),
        ("credit_memo", "USD"),
        ("payment", "USD"),
        ("settlement", "USD"),
        ("adjustment", "USD"),
        ("deferred_revenue", "USD"),
    }
    for line in totals.values():
        assert (line["gateway_count"], line["gateway_total"]) == (
            line["erp_count"],
            line["erp_total"],
        ), line
    # the original memo and its reversal, the upgrade's invoice and the downgrade's memo
    assert totals["adjustment", "USD"]["erp_count"] == 3
    assert totals["credit_memo", "USD"]["erp_count"] == 1
    # billing's two invoices (the one billed by hand, the order's) and their payments
    assert totals["invoice", "USD"]["billing_count"] == 2
    assert totals["payment", "USD"]["billing_count"] == 2
    async with gateway.sessionmaker() as session:
        run = await session.get_one(ReconciliationRunRow, body["id"])
        staged = await session.scalar(select(ReconciliationItemRow.id).limit(1))
    assert (run.status, run.trigger, run.clean) == ("completed", "api", True)
    assert staged is None  # the staged documents are gone once the run ends


async def test_each_difference_is_reported_with_its_probable_cause(gateway: Gateway) -> None:
    matching = (await posted_invoice(gateway))["id"]
    taxed = (await posted_invoice(gateway))["id"]
    netted = (await posted_invoice(gateway))["id"]
    async with gateway.sessionmaker.begin() as session:
        await session.execute(  # the gateway believes the tax was one cent more
            update(InvoiceRow)
            .where(InvoiceRow.id == taxed)
            .values(total=InvoiceRow.total + 1, tax_total=InvoiceRow.tax_total + 1)
        )
        await session.execute(
            update(InvoiceRow).where(InvoiceRow.id == netted).values(total=InvoiceRow.total + 7)
        )
    unposted = (
        await gateway.client.post(
            "/v1/invoices", json=invoice_body(), headers={"Idempotency-Key": "unposted"}
        )
    ).json()["id"]
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

    assert causes(body) == {
        ("invoice", taxed, "amount_differs_tax"),
        ("invoice", netted, "amount_differs_net"),
        ("invoice", unposted, "registered_not_posted"),
        ("invoice", "MANUAL-1", "posted_in_erp_not_registered"),
    }
    by_key = {d["key"]: d for d in body["differences"]}
    assert by_key["MANUAL-1"]["explanation"] == "posted in ERP, not registered in the gateway"
    assert by_key["MANUAL-1"]["erp_amount"] == 500
    assert by_key[taxed]["gateway_amount"] == by_key[taxed]["erp_amount"] + 1
    assert by_key[taxed]["explanation"] == "amount differs: tax"
    assert matching not in by_key
    [invoices] = [t for t in body["totals"] if t["document_type"] == "invoice"]
    assert (invoices["gateway_count"], invoices["erp_count"]) == (4, 4)
    assert (
        invoices["gateway_total"] - invoices["erp_total"]
        == 1 + 7 + by_key[unposted]["gateway_amount"] - 500
    )
    assert body["clean"] is False
    assert body["difference_count"] == 4


async def test_billing_only_and_billing_mismatches_are_reported(gateway: Gateway) -> None:
    billed, billing_invoice = await paid_in_billing(gateway)
    state = gateway.backends.billing_sandbox
    assert state is not None
    state.invoices[billing_invoice]["amount_paid"] -= 100  # billing collected less
    customer = state.invoices[billing_invoice]["customer"]
    async with sandbox_http(InProcessTransport(app=stripe.create_app(state))) as http:
        stray = await create_invoice(http, customer, amounts=(4200,), finalize=True)
    async with gateway.sessionmaker.begin() as session:  # a payment billing never saw
        await session.execute(
            update(PaymentRow)
            .where(PaymentRow.invoice_id == billed["id"])
            .values(source_ref="in_unknown")
        )

    body = await reconciliation(gateway)

    payment = await _payment_id(gateway, billed["id"])
    assert causes(body) == {
        ("invoice", stray["id"], "in_billing_never_registered"),
        ("payment", payment, "registered_not_in_billing"),
        ("payment", f"paid:{billing_invoice}", "in_billing_never_registered"),
    }
    [stray_line] = [d for d in body["differences"] if d["key"] == stray["id"]]
    assert (stray_line["billing_id"], stray_line["billing_amount"]) == (stray["id"], 4200)
    [invoices] = [t for t in body["totals"] if t["document_type"] == "invoice"]
    assert (invoices["billing_count"], invoices["billing_total"]) == (2, billed["total"] + 4200)


async def _payment_id(gateway: Gateway, invoice_id: str) -> str:
    async with gateway.sessionmaker() as session:
        found = await session.scalar(
            select(PaymentRow.id).where(PaymentRow.invoice_id == invoice_id)
        )
    assert found is not None
    return found


async def test_credit_memo_and_settlement_differences_on_either_side(gateway: Gateway) -> None:
    invoice = await posted_invoice(gateway)
    mismatched = await credit(gateway, invoice, 2000, "cm-mismatch")
    statement = await settled(gateway, "stl-diff")
    async with gateway.sessionmaker.begin() as session:
        await session.execute(
            update(CreditMemoRow)
            .where(CreditMemoRow.id == mismatched)
            .values(erp_total_including_tax=CreditMemoRow.erp_total_including_tax + 1)
        )
        await session.execute(
            update(SettlementRow)
            .where(SettlementRow.id == statement["id"])
            .values(total_commission=SettlementRow.total_commission + 1)
        )
        session.add(  # a statement the gateway believes journaled, which never was
            SettlementRow(
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
        )
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
    await erp.post_sales_credit_memo(US_COMPANY, manual.id)
    ledger = gateway.app.state.process.settings.ledger
    journal = await erp.ensure_journal(
        US_COMPANY, ErpJournalCreate(code="MANUAL", display_name="Entered by hand")
    )
    await erp.add_journal_entry(
        US_COMPANY,
        journal.id,
        ErpJournalEntryCreate(
            document_number="STL-BYHAND",
            posting_date=date.today(),
            currency="USD",
            lines=(
                ErpJournalLine(
                    account_number=ledger.commission_expense_account, amount=999, description="H"
                ),
                ErpJournalLine(
                    account_number=ledger.commission_payable_account, amount=-999, description="H"
                ),
            ),
        ),
    )
    await erp.post_journal_entry(US_COMPANY, journal.id, "STL-BYHAND", "USD")

    body = await reconciliation(gateway)

    assert causes(body) == {
        ("credit_memo", mismatched, "amount_differs"),
        ("credit_memo", "MANUAL-CM", "posted_in_erp_not_registered"),
        ("settlement", statement["journal_document_number"], "amount_differs"),
        ("settlement", "STL-NEVERJOURNALED", "registered_not_posted"),
        ("settlement", "STL-BYHAND", "posted_in_erp_not_registered"),
    }
    by_key = {d["key"]: d for d in body["differences"]}
    journaled = by_key[statement["journal_document_number"]]
    total = statement["total_commission"]
    assert (journaled["gateway_id"], journaled["gateway_amount"], journaled["erp_amount"]) == (
        statement["id"],
        total + 1,
        total,
    )
    [settlements] = [t for t in body["totals"] if t["document_type"] == "settlement"]
    assert (settlements["gateway_count"], settlements["gateway_total"]) == (2, total + 1 + 1234)
    assert (settlements["erp_count"], settlements["erp_total"]) == (2, total + 999)


async def test_runs_are_kept_and_listed(gateway: Gateway) -> None:
    await posted_invoice(gateway)
    first = await reconciliation(gateway)
    client = await gateway.client_with(["ops:read"], client_id="recon-read")
    runs = await client.get(
        "/ops/v1/reconciliation/runs", params={"legal_entity": US_ENTITY, "period": PERIOD}
    )
    kept = await client.get(f"/ops/v1/reconciliation/runs/{first['id']}")
    await client.aclose()
    assert runs.status_code == 200, runs.text
    assert [(r["id"], r["status"], r["clean"]) for r in runs.json()] == [
        (first["id"], "completed", True)
    ]
    assert kept.status_code == 200, kept.text
    assert kept.json()["totals"] == first["totals"]


async def test_a_malformed_period_is_refused(gateway: Gateway) -> None:
    client = await gateway.client_with(["ops:read"], client_id="recon")
    response = await client.get(
        "/ops/v1/reconciliation", params={"period": "2026-13", "legal_entity": US_ENTITY}
    )
    assert response.status_code == 422
    await client.aclose()


async def test_the_worker_reconciles_each_entitys_two_months_once_a_day(gateway: Gateway) -> None:
    await posted_invoice(gateway)
    context = gateway.app.state.process
    today = datetime.now(UTC)
    early, due = today.replace(hour=1), today.replace(hour=3)
    assert await schedule.run_due(context, now=early) == 0  # before the configured hour
    ran = await schedule.run_due(context, now=due)
    assert await schedule.run_due(context, now=due) == 0  # once a day
    async with gateway.sessionmaker() as session:
        runs = (await session.scalars(select(ReconciliationRunRow))).all()
    months = {(run.legal_entity_id, run.period) for run in runs}
    assert ran == len(runs) == len(months) >= 4
    assert (US_ENTITY, PERIOD) in months
    assert {(run.trigger, run.status) for run in runs} == {("schedule", "completed")}


async def test_a_credit_on_a_billed_invoice_matches_its_credit_note_tax_included(
    gateway: Gateway,
) -> None:
    """Billing's credit note is issued for what the ERP credited, tax included: the
    gateway's side of that comparison is the same figure, not the credit before tax."""
    invoice = await posted_invoice(gateway)
    await bill_in_stripe(gateway, invoice)
    response = await request_credit(
        gateway.client, credit_body(invoice["id"], await open_case(gateway), 1000), "billed"
    )
    assert response.json()["status"] == "posted", response.text
    assert response.json()["refs"]["billing"] is not None
    body = await reconciliation(gateway)
    assert body["differences"] == []
