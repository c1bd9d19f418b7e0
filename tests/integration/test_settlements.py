"""Payment → commission → partner settlement → ERP journal, across the tiers and the ERP,
billing and CRM sandboxes, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import event, select, update

from app.readiness import DATABASE_PROBE
from app.seed import demo_id
from core.errors import PROBLEM_BASE_URI
from core.models.commission_line import CommissionLineRow
from core.models.legal_entity import AccountingPeriodRow
from core.models.payment import PaymentRow
from core.models.settlement import SettlementRow
from core.models.workflow_run import RunStatus, WorkflowRunRow
from process_apis.billing_inbox import BillingInbox
from process_apis.deps import ProcessContext
from process_apis.settlements.schedule import SettlementSchedule
from process_apis.worker import replayer
from sandboxes import stripe
from system_apis.crm.schemas import CrmRate, CrmRateCardVersionCreate
from system_apis.http import InProcessTransport
from tests.conftest import Gateway, GatewayFactory
from tests.integration.test_credit_memos import bill_in_stripe, posted_invoice
from tests.support.calendar import month, months_later
from tests.support.calendar import month_start as months_later_day
from tests.support.erps import ErpCase, on_erp
from tests.support.faults import switchable_backends
from tests.support.invoices import ACME, DE_COMPANY, INITECH, US_COMPANY, invoice_body
from tests.support.stripe_sandbox import post, sandbox_http

PRO, ENTERPRISE = demo_id("product", 1), demo_id("product", 2)
NORTHWIND, FABRIKAM = demo_id("partner", 1), demo_id("partner", 2)
US_ENTITY, DE_ENTITY = demo_id("legal_entity", 1), demo_id("legal_entity", 2)
SETTLER = ["settlements:write", "settlements:read", "invoices:read"]
PERIOD = date.today().strftime("%Y-%m")


def product_invoice(
    customer_id: str = ACME, currency: str = "USD", seats: int = 3
) -> dict[str, Any]:
    """Pro seats and an Enterprise add-on (commissionable) and onboarding (not a product)."""
    pro, enterprise = (4900, 19900) if currency == "USD" else (4500, 18500)
    body = invoice_body(
        customer_id,
        currency=currency,
        lines=(
            ("Ledgergate Pro, monthly", seats, pro, "STANDARD"),
            ("Ledgergate Enterprise add-on", 1, enterprise, "STANDARD"),
            ("Onboarding", 1, 25000, "STANDARD"),
        ),
    )
    body["lines"][0]["product_id"] = PRO
    body["lines"][1]["product_id"] = ENTERPRISE
    return body


async def pay(
    gateway: Gateway, invoice: dict[str, Any], amount: int, key: str, **extra: Any
) -> httpx.Response:
    return await gateway.client.post(
        f"/v1/invoices/{invoice['id']}/payments",
        json={"amount": amount, "currency": invoice["currency"], **extra},
        headers={"Idempotency-Key": key},
    )


async def run_settlements(
    client: httpx.AsyncClient, key: str, period: str = PERIOD
) -> httpx.Response:
    return await client.post(
        "/v1/settlement-runs", json={"period": period}, headers={"Idempotency-Key": key}
    )


def erp_payments(gateway: Gateway, company: str = US_COMPANY) -> dict[str, Decimal]:
    """External document number → amount of every customer payment in the ERP."""
    assert gateway.backends.erp_sandbox is not None
    book = gateway.backends.erp_sandbox.books[company]
    return {
        payment.external_document_number: payment.amount
        for journal in book.payment_journals.values()
        for payment in journal.payments
    }


def ledger(
    gateway: Gateway, document: str, company: str = US_COMPANY
) -> list[tuple[str, Decimal, Decimal]]:
    assert gateway.backends.erp_sandbox is not None
    return [
        (entry.account_number, entry.debit_amount, entry.credit_amount)
        for entry in gateway.backends.erp_sandbox.ledger(company)
        if entry.document_number == document
    ]


async def test_a_payment_is_applied_in_the_erp_and_rated_for_the_partner(
    erp_case: ErpCase,
) -> None:
    gateway = erp_case.gateway
    invoice = await posted_invoice(gateway, product_invoice())
    response = await pay(gateway, invoice, invoice["total"], "p1", reference="WIRE-1")
    assert response.status_code == 201, response.text
    payment = response.json()
    assert payment["status"] == "applied"
    # ERP: the payment applied to the posted invoice, which owes nothing now
    assert erp_case.payments() == {payment["id"]: invoice["total"]}
    erp_invoice = await gateway.backends.erp.get_sales_invoice(
        erp_case.company_id, invoice["posting"]["erp_document_id"]
    )
    assert (erp_invoice.remaining_amount, erp_invoice.status) == (0, "paid")
    assert (await gateway.client.get(f"/v1/invoices/{invoice['id']}")).json()["status"] == "paid"
    # commission: 20 % (Northwind's reseller-20 plan, version 1) of each product line
    lines = {line["product_tier"]: line for line in payment["commission_lines"]}
    assert set(lines) == {"pro", "enterprise"}
    assert (lines["pro"]["base_amount"], lines["pro"]["commission_amount"]) == (14700, 2940)
    assert (lines["enterprise"]["base_amount"], lines["enterprise"]["commission_amount"]) == (
        19900,
        3980,
    )
    for line in lines.values():
        assert line["partner_id"] == NORTHWIND
        assert (line["plan_code"], line["rate_card_version"], line["rate_bps"]) == (
            "reseller-20",
            1,
            2000,
        )
        assert (line["eligible"], line["eligibility_reason"]) == (True, "eligible")
        assert line["deal_registration_id"]
        assert line["settlement_id"] is None
    run = (await gateway.client.get(payment["run_url"])).json()
    assert [s["name"] for s in run["steps"]] == [
        "ensure_payment_journal",
        "apply_payment",
        "read_erp_invoice",
        "get_partner",
        "get_commission_plan",
        "check_eligibility:enterprise",
        "check_eligibility:pro",
    ]
    assert run["result"]["commission_total"] == 2940 + 3980
    again = await pay(gateway, invoice, invoice["total"], "p1", reference="WIRE-1")
    assert again.headers["idempotent-replayed"] == "true"
    assert len(erp_case.payments()) == 1
    paid_twice = await pay(gateway, invoice, 100, "p2")
    assert paid_twice.json()["type"] == PROBLEM_BASE_URI + "invoice-already-paid"


async def test_partial_payments_are_allocated_pro_rata(gateway: Gateway) -> None:
    invoice = await posted_invoice(gateway, product_invoice())
    first = (await pay(gateway, invoice, invoice["total"] // 2, "p1")).json()
    assert (await gateway.client.get(f"/v1/invoices/{invoice['id']}")).json()["status"] == "posted"
    rest = invoice["total"] - invoice["total"] // 2
    second = (await pay(gateway, invoice, rest, "p2")).json()
    assert (await gateway.client.get(f"/v1/invoices/{invoice['id']}")).json()["status"] == "paid"
    bases = [
        sum(line["base_amount"] for line in p["commission_lines"] if line["product_tier"] == "pro")
        for p in (first, second)
    ]
    assert abs(bases[0] - bases[1]) <= 1
    assert sum(bases) == 14700
    too_much = await pay(gateway, invoice, 1, "p3")
    assert too_much.status_code == 422


async def test_a_payment_over_what_the_invoice_owes_is_refused_by_the_erp(gateway: Gateway) -> None:
    invoice = await posted_invoice(gateway, product_invoice())
    response = await pay(gateway, invoice, invoice["total"] + 1, "p1")
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"] == PROBLEM_BASE_URI + "payment-exceeds-remaining"
    assert problem["remaining_amount"] == invoice["total"]
    assert erp_payments(gateway) == {}
    run = (await gateway.client.get(problem["run_url"])).json()
    assert (run["status"], run["error_class"]) == ("rejected", "business")  # answered, not queued
    unposted = (await gateway.client.post("/v1/invoices", json=product_invoice())).json()
    refused = await pay(gateway, unposted, 100, "p2")
    assert refused.json()["type"] == PROBLEM_BASE_URI + "invoice-not-posted"


async def test_commissions_use_the_rate_card_version_in_force_on_the_payment_date(
    gateway: Gateway,
) -> None:
    tomorrow = date.today() + timedelta(days=1)
    await gateway.backends.crm.add_rate_card_version(
        "reseller-20",
        CrmRateCardVersionCreate(
            effective_from=tomorrow,
            rates=(
                CrmRate(product_tier="pro", rate_bps=2500),
                CrmRate(product_tier="enterprise", rate_bps=3000),
            ),
        ),
        idempotency_key="rates-v2",
    )
    today_invoice = await posted_invoice(gateway, product_invoice())
    tomorrow_invoice = await posted_invoice(gateway, product_invoice())
    today = (await pay(gateway, today_invoice, today_invoice["total"], "p1")).json()
    later = (
        await pay(
            gateway, tomorrow_invoice, tomorrow_invoice["total"], "p2", paid_on=tomorrow.isoformat()
        )
    ).json()
    assert {
        (line["rate_card_version"], line["rate_bps"]) for line in today["commission_lines"]
    } == {(1, 2000)}
    by_tier = {line["product_tier"]: line for line in later["commission_lines"]}
    assert (by_tier["pro"]["rate_card_version"], by_tier["pro"]["rate_bps"]) == (2, 2500)
    assert by_tier["pro"]["rate_effective_from"] == tomorrow.isoformat()
    assert by_tier["enterprise"]["commission_amount"] == 19900 * 3000 // 10000


async def test_a_partner_without_a_deal_registration_earns_nothing_on_record(
    gateway: Gateway,
) -> None:
    created = await gateway.client.post(
        "/v1/customers",
        json={
            "name": "Hooli Inc.",
            "email": "ap@hooli.example",
            "legal_entity_id": demo_id("legal_entity", 1),
            "currency": "USD",
            "partner_id": FABRIKAM,
        },
        headers={"Idempotency-Key": "hooli"},
    )
    assert created.status_code == 201, created.text
    invoice = await posted_invoice(gateway, product_invoice(created.json()["id"]))
    payment = (await pay(gateway, invoice, invoice["total"], "p1")).json()
    assert payment["status"] == "applied"
    assert {
        (line["eligible"], line["eligibility_reason"], line["commission_amount"])
        for line in payment["commission_lines"]
    } == {(False, "no_deal_registration", 0)}
    months_later(gateway.app)
    run = await run_settlements(await gateway.client_with(SETTLER), "s1")
    assert run.status_code == 200
    assert run.json()["settlements"] == []


async def test_a_settlement_run_journals_each_statement_in_the_erp(erp_case: ErpCase) -> None:
    gateway = erp_case.gateway
    acme = [await posted_invoice(gateway, product_invoice(seats=seats)) for seats in (1, 2)]
    initech = await posted_invoice(gateway, product_invoice(INITECH, "EUR"))
    for number, invoice in enumerate([*acme, initech]):
        assert (await pay(gateway, invoice, invoice["total"], f"p{number}")).status_code == 201
    settler = await gateway.client_with(SETTLER, client_id="finance-settler")
    months_later(gateway.app)
    response = await run_settlements(settler, "s1")
    assert response.status_code == 201, response.text
    result = response.json()
    assert result["drawn_up"] == 2
    by_partner = {s["partner_id"]: s for s in result["settlements"]}
    northwind, fabrikam = by_partner[NORTHWIND], by_partner[FABRIKAM]
    northwind_total = sum(4900 * seats * 2000 // 10000 + 3980 for seats in (1, 2))
    assert (northwind["currency"], northwind["total_commission"], northwind["line_count"]) == (
        "USD",
        northwind_total,
        4,
    )
    assert (fabrikam["currency"], fabrikam["total_commission"]) == ("EUR", (13500 + 18500) // 10)
    for settlement in (northwind, fabrikam):
        assert settlement["status"] == "posted"
        assert settlement["last_run"]["status"] == "succeeded"
        assert settlement["period_start"] == date.today().replace(day=1).isoformat()
    # ERP: balanced journal entries, commission expense against partner payable
    document = northwind["journal_document_number"]
    assert erp_case.ledger(document) == [
        ("60100", northwind_total, 0),
        ("21500", 0, northwind_total),
    ]
    assert ledger(gateway, fabrikam["journal_document_number"], DE_COMPANY) == [
        ("60100", Decimal(3200) / 100, 0),
        ("21500", 0, Decimal(3200) / 100),
    ]
    # the statement and its lineage, payment → invoice line → attribution → rate card → commission
    read = (await settler.get(f"/v1/settlements/{northwind['id']}")).json()
    assert read == {**northwind, "updated_at": read["updated_at"]}
    lineage = (await settler.get(f"/v1/settlements/{northwind['id']}/lineage?limit=3")).json()
    assert len(lineage["items"]) == 3
    rest = (
        await settler.get(
            f"/v1/settlements/{northwind['id']}/lineage", params={"cursor": lineage["next_cursor"]}
        )
    ).json()
    entries = lineage["items"] + rest["items"]
    assert rest["next_cursor"] is None
    assert {e["invoice_line"]["invoice_id"] for e in entries} == {i["id"] for i in acme}
    for entry in entries:
        assert entry["attribution"]["partner_id"] == NORTHWIND
        assert entry["attribution"]["customer_id"] == ACME
        assert entry["attribution"]["deal_registration_id"]
        assert entry["rate_card"]["plan_code"] == "reseller-20"
        assert entry["rate_card"]["version"] == 1
        assert entry["payment"]["erp_document_number"]
        assert entry["invoice_line"]["erp_document_number"]
        assert entry["statement"] == {
            "settlement_id": northwind["id"],
            "journal_document_number": document,
            "prior_period_adjustment": False,
        }
    assert sum(e["commission"]["amount"] for e in entries) == northwind_total
    # idempotent per partner and period: a second run draws up nothing, journals nothing
    again = await run_settlements(settler, "s2")
    assert again.status_code == 200
    assert again.json()["drawn_up"] == 0
    assert {s["id"] for s in again.json()["settlements"]} == {northwind["id"], fabrikam["id"]}
    assert len(erp_case.ledger(document)) == 2
    replayed = await run_settlements(settler, "s1")
    assert replayed.headers["idempotent-replayed"] == "true"
    await settler.aclose()


async def test_a_month_is_settled_only_after_it_ends(gateway: Gateway) -> None:
    invoice = await posted_invoice(gateway, product_invoice())
    await pay(gateway, invoice, invoice["total"], "p1")
    settler = await gateway.client_with(SETTLER)
    early = await run_settlements(settler, "s1")
    assert early.status_code == 422, early.text
    problem = early.json()
    assert problem["type"] == PROBLEM_BASE_URI + "settlement-period-open"
    assert problem["settleable_from"] == months_later_day(1).isoformat()
    async with gateway.sessionmaker() as session:
        assert await session.scalar(select(WorkflowRunRow.id)) is not None  # the posting only
        held = await session.scalar(
            select(CommissionLineRow.id).where(CommissionLineRow.settlement_id.is_not(None))
        )
    assert held is None
    months_later(gateway.app)
    settled = await run_settlements(settler, "s2")
    assert settled.status_code == 201, settled.text
    assert [s["status"] for s in settled.json()["settlements"]] == ["posted"]


async def test_a_later_month_never_sweeps_an_earlier_unsettled_months_commissions(
    gateway: Gateway,
) -> None:
    invoice = await posted_invoice(gateway, product_invoice())
    paid = (await pay(gateway, invoice, invoice["total"], "p1")).json()
    settler = await gateway.client_with(SETTLER)
    months_later(gateway.app, 4)
    later = await run_settlements(settler, "s1", month(3))
    assert later.status_code == 200, later.text
    assert (later.json()["drawn_up"], later.json()["settlements"]) == (0, [])
    own = (await run_settlements(settler, "s2", PERIOD)).json()
    [statement] = own["settlements"]
    assert (statement["period_start"], statement["adjustment_total"]) == (
        date.today().replace(day=1).isoformat(),
        0,
    )
    assert statement["total_commission"] == sum(
        line["commission_amount"] for line in paid["commission_lines"]
    )
    assert len(ledger(gateway, statement["journal_document_number"])) == 2


async def test_commissions_paid_after_their_months_statement_are_a_prior_period_adjustment(
    gateway: Gateway,
) -> None:
    settler = await gateway.client_with(SETTLER)
    first = await posted_invoice(gateway, product_invoice())
    await pay(gateway, first, first["total"], "p1")
    months_later(gateway.app)
    drawn = (await run_settlements(settler, "s1")).json()["settlements"][0]
    late = await posted_invoice(gateway, product_invoice(seats=1))
    # Paid in the month already settled (the gateway's clock is past it): a late payment.
    paid_on = date.today().isoformat()
    late_paid = (await pay(gateway, late, late["total"], "p2", paid_on=paid_on)).json()
    again = (await run_settlements(settler, "s2")).json()
    assert again["drawn_up"] == 0
    assert again["settlements"] == [{**drawn, "last_run": again["settlements"][0]["last_run"]}]
    months_later(gateway.app, 2)
    next_month = (await run_settlements(settler, "s3", month(1))).json()
    [rolled] = next_month["settlements"]
    late_total = sum(line["commission_amount"] for line in late_paid["commission_lines"])
    assert rolled["id"] != drawn["id"]
    assert (rolled["period_start"], rolled["total_commission"], rolled["adjustment_total"]) == (
        month(1) + "-01",
        late_total,
        late_total,
    )
    lineage = (await settler.get(f"/v1/settlements/{rolled['id']}/lineage")).json()["items"]
    assert {entry["invoice_line"]["invoice_id"] for entry in lineage} == {late["id"]}
    assert all(entry["statement"]["prior_period_adjustment"] for entry in lineage)
    assert {entry["payment"]["paid_on"] for entry in lineage} == {date.today().isoformat()}
    amount = Decimal(late_total) / 100
    assert ledger(gateway, rolled["journal_document_number"]) == [
        ("60100", amount, 0),
        ("21500", 0, amount),
    ]
    assert gateway.backends.erp_sandbox is not None
    [adjustment] = [
        line.description
        for line in gateway.backends.erp_sandbox.ledger(US_COMPANY)
        if line.document_number == rolled["journal_document_number"] and line.debit_amount
    ]
    assert adjustment.startswith("Prior-period commission adjustment")


async def test_a_settlement_runs_cost_does_not_grow_with_its_invoices(gateway: Gateway) -> None:
    """Set-based: the statements a run draws up cost the same for 2 or 6 paid invoices."""
    engine = gateway.app.state.process.sessionmaker.kw["bind"]
    settler = await gateway.client_with(SETTLER)

    async def statements_for(invoices: int, period: str) -> int:
        for number in range(invoices):
            invoice = await posted_invoice(gateway, product_invoice())
            # paid in the month settled (the gateway's clock is months later)
            paid_on = max(date.today(), date.fromisoformat(f"{period}-01")).isoformat()
            await pay(gateway, invoice, invoice["total"], f"{period}-{number}", paid_on=paid_on)
        seen: list[str] = []

        def count(*args: Any) -> None:
            seen.append(args[2])

        event.listen(engine.sync_engine, "before_cursor_execute", count)
        try:
            response = await run_settlements(settler, period, period)
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", count)
        assert response.json()["drawn_up"] == 1
        # the client's status is re-read when the edge's cache of it expires, at any time;
        # the ERP budget's own statements follow the ERP requests (the first run also
        # creates the settlement journal), not the invoices
        # and the readiness monitor probes the database every few seconds
        return len(
            [
                s
                for s in seen
                if "FROM api_clients" not in s and "erp_budget_" not in s and s != DATABASE_PROBE
            ]
        )

    months_later(gateway.app, 2)
    warm = await run_settlements(settler, "warm-up", "2000-01")  # the client's first call
    assert warm.json()["drawn_up"] == 0
    assert await statements_for(2, PERIOD) == await statements_for(6, month(1))


async def test_an_unreachable_erp_queues_the_journal_and_the_replayer_posts_it(
    make_gateway: GatewayFactory,
) -> None:
    switches, wrap = switchable_backends()

    gateway = await make_gateway(wrap=wrap)
    invoice = await posted_invoice(gateway, product_invoice())
    await pay(gateway, invoice, invoice["total"], "p1")
    settler = await gateway.client_with(SETTLER)
    months_later(gateway.app)
    switches["erp"].down = True
    response = await run_settlements(settler, "s1")
    assert response.status_code == 202, response.text
    settlement = response.json()["settlements"][0]
    assert (settlement["status"], settlement["last_run"]["status"]) == ("approved", "pending_retry")
    switches["erp"].down = False
    await _make_due(gateway, settlement["last_run"]["id"])
    report = await replayer(gateway.app.state.process).run_once()
    assert report.outcomes == {"succeeded": 1}
    posted = (await settler.get(f"/v1/settlements/{settlement['id']}")).json()
    assert posted["status"] == "posted"
    assert len(ledger(gateway, posted["journal_document_number"])) == 2


async def test_discarding_an_unjournaled_statement_voids_it_and_frees_its_lines(
    make_gateway: GatewayFactory,
) -> None:
    switches, wrap = switchable_backends()

    gateway = await make_gateway(wrap=wrap)
    invoice = await posted_invoice(gateway, product_invoice())
    await pay(gateway, invoice, invoice["total"], "p1")
    settler = await gateway.client_with(SETTLER)
    months_later(gateway.app, 2)
    switches["erp"].down = True
    queued = (await run_settlements(settler, "s1")).json()["settlements"][0]
    switches["erp"].down = False
    await replayer(gateway.app.state.process).close(
        queued["last_run"]["id"], status=RunStatus.DISCARDED, note="wrong period", operator="ops"
    )
    assert (await settler.get(f"/v1/settlements/{queued['id']}")).json()["status"] == "void"
    async with gateway.sessionmaker() as session:
        held = await session.scalar(
            select(CommissionLineRow.id).where(CommissionLineRow.settlement_id.is_not(None))
        )
    assert held is None
    rolled = (await run_settlements(settler, "s2", month(1))).json()
    assert rolled["settlements"][0]["total_commission"] == queued["total_commission"]
    assert rolled["settlements"][0]["status"] == "posted"


async def test_an_invoice_paid_in_billing_is_applied_from_the_inbox(gateway: Gateway) -> None:
    invoice = await posted_invoice(gateway, product_invoice())
    billing_invoice = await bill_in_stripe(gateway, invoice)
    state = gateway.backends.billing_sandbox
    assert state is not None
    async with sandbox_http(InProcessTransport(app=stripe.create_app(state))) as http:
        await post(http, f"/v1/invoices/{billing_invoice}/pay", {"paid_out_of_band": True})
    inbox = BillingInbox(gateway.app.state.process)
    report = await inbox.drain()
    assert report.consumed == 1
    assert len(report.payments) == 1
    payment = (await gateway.client.get(f"/v1/payments/{report.payments[0]}")).json()
    assert (payment["source"], payment["status"], payment["amount"]) == (
        "billing",
        "applied",
        invoice["total"],
    )
    assert payment["last_run"]["attempts"] == 1
    assert erp_payments(gateway) == {payment["id"]: Decimal(invoice["total"]) / 100}
    assert len(payment["commission_lines"]) == 2
    assert (await gateway.client.get(f"/v1/invoices/{invoice['id']}")).json()["status"] == "paid"
    # a redelivery of the same event is refused by the receiver; the inbox has nothing left
    assert (await inbox.drain()).consumed == 0
    async with gateway.sessionmaker() as session:
        payments = (await session.scalars(select(PaymentRow.id))).all()
    assert payments == [payment["id"]]


async def test_a_billing_payment_for_an_unposted_invoice_waits_in_the_queue(
    gateway: Gateway,
) -> None:
    created = (await gateway.client.post("/v1/invoices", json=product_invoice())).json()
    billing_invoice = await bill_in_stripe(gateway, created)
    state = gateway.backends.billing_sandbox
    assert state is not None
    async with sandbox_http(InProcessTransport(app=stripe.create_app(state))) as http:
        await post(http, f"/v1/invoices/{billing_invoice}/pay", {"paid_out_of_band": True})
    report = await BillingInbox(gateway.app.state.process).drain()
    payment = (await gateway.client.get(f"/v1/payments/{report.payments[0]}")).json()
    assert payment["status"] == "recorded"
    assert (payment["last_run"]["status"], payment["last_run"]["error_class"]) == (
        "failed",
        "business",
    )
    # posted later, the operator replays the run: the payment is applied
    posted = await gateway.client.post(
        f"/v1/invoices/{created['id']}/postings", json={}, headers={"Idempotency-Key": "post"}
    )
    assert posted.status_code == 201
    status = await replayer(gateway.app.state.process).replay(payment["last_run"]["id"])
    assert status == "succeeded"
    assert erp_payments(gateway) == {payment["id"]: Decimal(created["total"]) / 100}


async def _make_due(gateway: Gateway, run_id: str) -> None:
    async with gateway.sessionmaker() as session:
        run = await session.get_one(WorkflowRunRow, run_id)
        assert run.next_attempt_at is not None
        run.next_attempt_at -= timedelta(hours=2)
        await session.commit()


async def test_an_entity_settling_closed_months_waits_for_its_period_to_close(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway(settlements={"after_period_close": ["LG-DE"]})
    for customer, currency in ((ACME, "USD"), (INITECH, "EUR")):
        invoice = await posted_invoice(gateway, product_invoice(customer, currency))
        assert (await pay(gateway, invoice, invoice["total"], customer)).status_code == 201
    settler = await gateway.client_with(SETTLER)
    months_later(gateway.app)
    run = (await run_settlements(settler, "s1")).json()
    assert run["awaiting_period_close"] == [DE_ENTITY]
    assert [s["legal_entity_id"] for s in run["settlements"]] == [US_ENTITY]
    alone = await settler.post(
        "/v1/settlement-runs",
        json={"period": PERIOD, "legal_entity_id": DE_ENTITY},
        headers={"Idempotency-Key": "s2"},
    )
    assert alone.status_code == 422, alone.text
    assert alone.json()["type"] == PROBLEM_BASE_URI + "settlement-accounting-period-open"
    async with gateway.sessionmaker.begin() as session:
        await session.execute(
            update(AccountingPeriodRow)
            .where(
                AccountingPeriodRow.legal_entity_id == DE_ENTITY,
                AccountingPeriodRow.starts_on == date.today().replace(day=1),
            )
            .values(status="closed")
        )
    closed = await settler.post(
        "/v1/settlement-runs",
        json={"period": PERIOD, "legal_entity_id": DE_ENTITY},
        headers={"Idempotency-Key": "s3"},
    )
    assert closed.status_code == 201, closed.text
    [statement] = closed.json()["settlements"]
    assert (statement["legal_entity_id"], statement["status"]) == (DE_ENTITY, "posted")
    assert statement["posting_date"] == months_later_day(1).isoformat()  # next open period


async def test_the_worker_settles_the_previous_month_on_schedule(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway(settlements={"schedule_day": 2})
    invoice = await posted_invoice(gateway, product_invoice())
    await pay(gateway, invoice, invoice["total"], "p1")
    schedule = SettlementSchedule(months_later_context(gateway, 1))
    await schedule.settle_due_month()  # the 1st: before the configured day
    async with gateway.sessionmaker() as session:
        assert await session.scalar(select(SettlementRow.id)) is None
    schedule = SettlementSchedule(months_later_context(gateway, 1, day=2))
    await schedule.settle_due_month()
    async with gateway.sessionmaker() as session:
        [statement] = (await session.scalars(select(SettlementRow))).all()
    assert (statement.period_start, statement.status) == (date.today().replace(day=1), "posted")
    assert await schedule.due_period() is None  # settled: nothing to do
    await schedule.settle_due_month()
    async with gateway.sessionmaker() as session:
        assert len((await session.scalars(select(SettlementRow))).all()) == 1


def months_later_context(gateway: Gateway, months_ahead: int, *, day: int = 1) -> ProcessContext:
    today = months_later_day(months_ahead).replace(day=day)
    return replace(gateway.app.state.process, today=lambda: today)


async def test_a_posted_settlement_is_reversed_in_the_erp_and_its_commissions_settle_again(
    make_gateway: GatewayFactory, erp_kind: str
) -> None:
    switches, wrap = switchable_backends()

    erp = await on_erp(make_gateway, erp_kind, wrap=wrap)
    gateway = erp.gateway
    invoice = await posted_invoice(gateway, product_invoice())
    await pay(gateway, invoice, invoice["total"], "p1")
    settler = await gateway.client_with(SETTLER)
    months_later(gateway.app)
    [posted] = (await run_settlements(settler, "s1")).json()["settlements"]
    url = f"/v1/settlements/{posted['id']}/reversals"
    unkeyed = await settler.post(url, json={"reason": "wrong partner"})
    assert unkeyed.status_code == 400
    switches[erp.backend].down = True
    queued = await settler.post(
        url, json={"reason": "wrong partner"}, headers={"Idempotency-Key": "r1"}
    )
    assert queued.status_code == 202, queued.text
    assert (queued.json()["status"], queued.json()["last_run"]["status"]) == (
        "posted",
        "pending_retry",
    )
    switches[erp.backend].down = False
    reversed_ = await settler.post(
        url, json={"reason": "wrong partner"}, headers={"Idempotency-Key": "r2"}
    )
    assert reversed_.status_code == 201, reversed_.text
    body = reversed_.json()
    assert body["status"] == "reversed"
    assert body["last_run"]["id"] == queued.json()["last_run"]["id"]  # the queued run resumed
    amount = posted["total_commission"]
    assert erp.ledger(body["reversal_document_number"]) == [
        ("60100", 0, amount),
        ("21500", amount, 0),
    ]
    again = await settler.post(url, json={"reason": "twice"}, headers={"Idempotency-Key": "r3"})
    assert (again.status_code, again.json()["status"]) == (200, "reversed")
    assert len(erp.ledger(body["reversal_document_number"])) == 2
    assert len(erp.ledger(posted["journal_document_number"])) == 2  # never deleted
    async with gateway.sessionmaker() as session:
        held = await session.scalar(
            select(CommissionLineRow.id).where(CommissionLineRow.settlement_id.is_not(None))
        )
    assert held is None
    months_later(gateway.app, 2)
    [resettled] = (await run_settlements(settler, "s2", month(1))).json()["settlements"]
    assert (resettled["total_commission"], resettled["adjustment_total"]) == (
        posted["total_commission"],
        posted["total_commission"],
    )
    assert resettled["status"] == "posted"
    unknown = await settler.post(
        "/v1/settlements/stl_00000000000000000000000000/reversals",
        json={"reason": "unknown"},
        headers={"Idempotency-Key": "r4"},
    )
    assert unknown.status_code == 404


async def test_a_statement_never_posted_is_not_reversed(make_gateway: GatewayFactory) -> None:
    switches, wrap = switchable_backends()

    gateway = await make_gateway(wrap=wrap)
    invoice = await posted_invoice(gateway, product_invoice())
    await pay(gateway, invoice, invoice["total"], "p1")
    settler = await gateway.client_with(SETTLER)
    months_later(gateway.app)
    switches["erp"].down = True
    [queued] = (await run_settlements(settler, "s1")).json()["settlements"]
    switches["erp"].down = False
    refused = await settler.post(
        f"/v1/settlements/{queued['id']}/reversals",
        json={"reason": "too early"},
        headers={"Idempotency-Key": "r1"},
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["type"] == PROBLEM_BASE_URI + "settlement-not-posted"
    assert gateway.backends.erp_sandbox is not None
    assert not [
        entry
        for entry in gateway.backends.erp_sandbox.ledger(US_COMPANY)
        if entry.document_number.startswith("STR-")
    ]
