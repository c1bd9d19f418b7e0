"""Twelve months of subscriptions through the product's own workflows, on SQLite and
PostgreSQL, on Business Central and NetSuite: an annual and a monthly subscription
ordered through the subscription API and billed by the billing sandbox on its test
clock (each billing invoice registered and posted by the inbox, each payment applied), a
mid-cycle upgrade and a later downgrade of each through the amendment API, an invoice
correction, a support credit, a refund through billing's webhook and the refund
workflow; every month recognized (on demand, one month by the worker's schedule) in one
balanced ERP journal, which defers nothing in the months with only invoices and
amendments (both booked to deferred revenue when posted); and at the end the waterfall,
JSON and CSV, equal to the cent to the test's own day-ratable computation from the
documents' amounts and service periods, with the proof and the reconciliation finding
no difference against the ERP."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from app.seed import demo_id
from core.models.payment import PaymentRow
from core.models.refund import RefundRow
from core.models.workflow_run import WorkflowRunRow
from process_apis.billing_inbox import BillingInbox
from process_apis.worker import BackgroundWork
from sandboxes import stripe
from tests.conftest import Gateway, GatewayFactory
from tests.integration.test_credit_memos import credit_body, open_case, request_credit
from tests.integration.test_payment_reversals import REVERSER, reverse
from tests.integration.test_refunds import WEBHOOK_URL, refund, stripe_api
from tests.integration.test_subscriptions import ENTERPRISE_USD, PRO_USD, amend, billing, ordered
from tests.support.calendar import month_start
from tests.support.erps import ErpCase, on_erp
from tests.support.revenue import (
    OPS,
    US_ENTITY,
    Book,
    assert_waterfall,
    deferred_revenue_check,
    month_key,
    proration_days,
    recognize,
    signed_net,
)

PRO = demo_id("product", 1)
GLOBEX = demo_id("customer", 2)
ANNUAL_PRO_USD = 49_000  # a year of Pro, per seat
DEFERRED = "24000"  # the default deferred revenue account
ANCHOR_DAY = 10  # both subscriptions start on the 10th: every service period spans two months
# The support credit below is finance's own: no approval step in between.
NO_APPROVAL = {"approval_thresholds": {"USD": 100_000_000}}


@dataclasses.dataclass
class Calendar:
    """The gateway's today and the billing sandbox's test clock, moved forward together:
    billing bills each period the clock passes (its events reach the gateway's webhook),
    and the inbox registers, posts and applies what they bring."""

    gateway: Gateway
    stripe: httpx.AsyncClient
    clock_id: str = ""
    today: date = date.min

    async def start(self, day: date) -> None:
        state = billing(self.gateway)
        state.webhook_clock = lambda: int(time.time())  # the gateway checks signatures now
        self._set_today(day)
        response = await self.stripe.post(
            "/v1/test_helpers/test_clocks", data={"frozen_time": str(_noon(day))}
        )
        assert response.status_code == 200, response.text
        self.clock_id = response.json()["id"]

    async def to(self, day: date) -> None:
        assert day > self.today, (day, self.today)
        self._set_today(day)
        response = await self.stripe.post(
            f"/v1/test_helpers/test_clocks/{self.clock_id}/advance",
            data={"frozen_time": str(_noon(day))},
        )
        assert response.status_code == 200, response.text
        await self.drain()

    async def drain(self) -> None:
        inbox = BillingInbox(self.gateway.app.state.process)
        while (await inbox.drain()).consumed:
            pass

    def _set_today(self, day: date) -> None:
        self.today = day
        process = self.gateway.app.state.process
        self.gateway.app.state.process = dataclasses.replace(process, today=lambda: day)


def _noon(day: date) -> int:
    return int(datetime.combine(day, datetime.min.time(), UTC).timestamp()) + 12 * 3600


def on(months_ahead: int, day: int) -> date:
    return month_start(months_ahead) + timedelta(days=day - 1)


async def invoice_ids(gateway: Gateway, subscription_id: str) -> set[str]:
    """The subscription's invoices the gateway registered from billing."""
    response = await gateway.client.get(
        "/v1/invoices", params={"subscription_id": subscription_id, "limit": 100}
    )
    assert response.status_code == 200, response.text
    return {invoice["id"] for invoice in response.json()["items"]}


async def payment_of(gateway: Gateway, invoice_id: str) -> tuple[PaymentRow, WorkflowRunRow]:
    """The invoice's one payment, and its run."""
    async with gateway.sessionmaker() as session:
        [payment] = (
            await session.scalars(select(PaymentRow).where(PaymentRow.invoice_id == invoice_id))
        ).all()
        run = await session.scalar(
            select(WorkflowRunRow).where(WorkflowRunRow.subject_id == payment.id)
        )
    assert run is not None
    return payment, run


async def test_twelve_months_of_subscriptions_through_the_workflows_are_recognized_to_the_cent(
    make_gateway: GatewayFactory, erp_kind: str
) -> None:
    erp_case: ErpCase = await on_erp(make_gateway, erp_kind, credit_memos=NO_APPROVAL)
    gateway = erp_case.gateway
    ops = await gateway.client_with(OPS)
    book = Book()
    # per month, what the month's journal moves into deferred revenue itself: what was
    # booked to revenue (the support credit, the refund); the invoices and the amendments'
    # ERP adjustments are booked to deferred revenue when posted
    to_deferred: dict[str, int] = {}
    annual_price = await ops.post(
        f"/ops/v1/products/{PRO}/prices",
        json={"currency": "USD", "unit_amount": ANNUAL_PRO_USD, "interval": "year"},
    )
    assert annual_price.status_code == 201, annual_price.text
    state = billing(gateway)

    async with stripe_api(gateway) as stripe_client:
        calendar = Calendar(gateway, stripe_client)
        await calendar.start(on(0, ANCHOR_DAY))
        annual = (
            await ordered(
                gateway,
                "order-annual",
                customer_id=GLOBEX,
                price_id=annual_price.json()["id"],
                quantity=1,
            )
        )["subscription"]
        monthly = (await ordered(gateway, "order-monthly", quantity=2))["subscription"]
        state.webhook_endpoints.append(
            stripe.WebhookEndpoint(url=WEBHOOK_URL, secret="whsec_sandbox", app=gateway.app)
        )
        await stripe.deliver_events(state, list(state.events))
        await calendar.drain()

        seen: set[str] = set()

        async def bill_new_invoices(subscription: dict[str, Any], key: str) -> dict[str, Any]:
            """Book the subscription's newly registered invoice, which must be posted."""
            [invoice_id] = await invoice_ids(gateway, subscription["id"]) - seen
            seen.add(invoice_id)
            invoice: dict[str, Any] = (
                await gateway.client.get(f"/v1/invoices/{invoice_id}")
            ).json()
            # posted; paid unless billing netted a credit on the customer's balance that no
            # open credit memo holds, or a downgrade's memo Business Central cannot apply,
            # into its payment (then waiting in the exception queue, never applied in part);
            # a renewal that collected an upgrade's proration pays the upgrade's invoice too:
            # no revenue changes
            assert invoice["status"] in ("posted", "paid"), invoice
            [line] = invoice["lines"]
            book.bill(
                key,
                line["amount"],
                date.fromisoformat(line["service_period_start"]),
                date.fromisoformat(line["service_period_end"]),
                date.fromisoformat(invoice["posting"]["posting_date"]),
            )
            return invoice

        annual_invoice = await bill_new_invoices(annual, "annual")
        assert annual_invoice["total"] == ANNUAL_PRO_USD
        annual_line = book.lines["annual"]
        assert (annual_line.start, annual_line.end) == (on(0, 10), on(12, 9))
        monthly_invoices = [await bill_new_invoices(monthly, "monthly-0")]

        async def amended(
            subscription: dict[str, Any], key: str, line_key: str, **change: Any
        ) -> int:
            response = await amend(gateway, subscription["id"], key, **change)
            assert response.status_code == 201, response.text
            result = response.json()
            net = signed_net(result)
            start, end = proration_days(result)
            assert start == calendar.today
            posted_on = date.fromisoformat(result["erp_adjustment"]["posting_date"])
            book.prorate(line_key, net, start, end, posted_on)
            # its ERP adjustment's line is booked to deferred revenue (an invoice credits
            # it, a credit memo debits it): the month's journal defers none of it
            document = result["erp_adjustment"]["document_number"]
            assert [
                credit - debit
                for number, debit, credit in erp_case.account_entries(DEFERRED)
                if number == document
            ] == [net]
            return net

        runs: dict[str, dict[str, Any]] = {}
        for ahead in range(1, 13):
            # the 1st: the month before is recognized (the 6th's by the worker's schedule)
            await calendar.to(on(ahead, 1))
            period = month_key(month_start(ahead - 1))
            if ahead == 6:
                work = BackgroundWork(gateway.app.state.process)
                try:
                    await work.run_once()
                finally:
                    await work.aclose()
                again = await recognize(ops, period, f"rev-{ahead}")
                assert again["drawn_up"] == 0, again  # the worker recognized it already
                [run] = again["runs"]
            else:
                [run] = (await recognize(ops, period, f"rev-{ahead}"))["runs"]
            assert run["status"] == "posted", run
            runs[period] = run
            # a journal that balances in the ERP, moving into deferred revenue only what
            # was booked to revenue
            ledger = erp_case.ledger(run["journal_document_number"])
            assert sum(debit for _, debit, _ in ledger) == sum(credit for _, _, credit in ledger)
            assert run["deferred_total"] == to_deferred.get(period, 0), run
            if ahead == 12:
                break

            # the 10th: billing renews the monthly subscription
            await calendar.to(on(ahead, ANCHOR_DAY))
            monthly_invoices.append(await bill_new_invoices(monthly, f"monthly-{ahead}"))
            if ahead == 5:
                # billing took the correction's credit note (on the customer's balance) off
                # this renewal, but the correction's ERP memo was applied to the invoice it
                # corrected: no open credit memo makes that balance, so the payment is an
                # exception, never applied in part
                payment, run = await payment_of(gateway, monthly_invoices[-1]["id"])
                assert (payment.balance_applied, payment.status) == (7_321, "recorded")
                assert run.error_type is not None
                assert run.error_type.endswith("/payment-balance-unmatched"), run.error_detail
            if ahead == 2:  # more seats on the annual plan from the 18th
                await calendar.to(on(ahead, 18))
                assert await amended(annual, "annual-up", "annual", quantity=3) > 0
            if ahead == 3:  # the monthly plan upgraded to Enterprise from the 24th
                await calendar.to(on(ahead, 24))
                assert (
                    await amended(monthly, "monthly-up", "monthly-3", price_id=ENTERPRISE_USD) > 0
                )
            if ahead == 4:  # a correction of this month's invoice: part of its line credited
                await calendar.to(on(ahead, 15))
                invoice = monthly_invoices[-1]
                # billing collected the upgrade's proration with it: its payment paid the
                # renewal's and the upgrade's ERP invoices; it bounced, so both owe again
                payment, run = await payment_of(gateway, invoice["id"])
                assert (payment.status, run.status) == ("applied", "succeeded"), run.error_detail
                reverser = await gateway.client_with(REVERSER, client_id="finance-reverser")
                bounced = await reverse(reverser, payment.id, "bounced-monthly-4")
                await reverser.aclose()
                assert bounced.status_code == 201, bounced.text
                response = await gateway.client.post(
                    f"/v1/invoices/{invoice['id']}/corrections",
                    json={
                        "reason": "Seats billed before they were used",
                        "lines": [{"invoice_line_id": invoice["lines"][0]["id"], "amount": 7_321}],
                    },
                    headers={"Idempotency-Key": "correct-monthly-4"},
                )
                assert response.status_code == 201, response.text
                assert response.json()["status"] == "posted", response.text
                book.credit("monthly-4", 7_321, calendar.today)
            if ahead == 5:  # a support credit on the annual invoice, for an outage
                await calendar.to(on(ahead, 20))
                case_id = await open_case(gateway, GLOBEX)
                body = credit_body(
                    annual_invoice["id"], case_id, 12_345, settlement="customer_balance"
                )
                response = await request_credit(gateway.client, body, "outage-credit")
                assert response.status_code == 201, response.text
                memo = response.json()
                assert memo["status"] == "posted", memo
                book.credit("annual", 12_345, calendar.today)
                to_deferred[month_key(calendar.today)] = -12_345  # nothing else that month
            if ahead == 6:  # the annual plan back to two seats from the 12th
                await calendar.to(on(ahead, 12))
                assert await amended(annual, "annual-down", "annual", quantity=2) < 0
            if ahead == 7:  # part of the annual charge refunded in billing
                await calendar.to(on(ahead, 22))
                async with gateway.sessionmaker() as session:
                    payment = await session.scalar(
                        select(PaymentRow).where(PaymentRow.invoice_id == annual_invoice["id"])
                    )
                assert payment is not None
                await refund(stripe_client, payment, 20_000)
                await calendar.drain()
                async with gateway.sessionmaker() as session:
                    [booked] = (await session.scalars(select(RefundRow))).all()
                assert (booked.status, booked.amount) == ("booked", 20_000)
                # billing charged no tax: the net taken back is what was refunded
                book.credit("annual", booked.amount, calendar.today)
                to_deferred[month_key(calendar.today)] = -booked.amount  # nor that month
            if ahead == 8:  # the monthly plan back to Pro from the 17th
                await calendar.to(on(ahead, 17))
                assert await amended(monthly, "monthly-down", "monthly-8", price_id=PRO_USD) < 0

    months = [month_key(month_start(ahead)) for ahead in range(12)]
    assert list(runs) == months
    expected = book.waterfall(months)
    await assert_waterfall(ops, months, expected)
    # each month's journal recognized what the book says the month earned
    assert [runs[row["month"]]["recognized_total"] for row in expected] == [
        row["recognized"] for row in expected
    ]

    # at the last month's end: billed = recognized + deferred, and the ERP agrees
    proof = (
        await ops.get(
            "/ops/v1/revenue/proof", params={"legal_entity": US_ENTITY, "period": months[-1]}
        )
    ).json()
    [usd] = proof["currencies"]
    billed = sum(row["billed"] for row in expected)
    recognized = sum(row["recognized"] for row in expected)
    deferred = expected[-1]["deferred"]
    assert (usd["billed"], usd["recognized"], usd["deferred"]) == (billed, recognized, deferred)
    assert usd["unbalanced_schedules"] == 0
    assert usd["journaled_deferred"] == usd["erp_deferred"] == deferred
    assert usd["matched"] is True
    drill = (await ops.get(proof["schedules_url"])).json()
    assert sum(item["deferred"] for item in drill["items"]) == deferred
    assert all(item["balanced"] for item in drill["items"])
    assert await deferred_revenue_check(ops, months[-1]) == ([deferred, deferred], [])
    # and at every month's end before it, the ERP's deferred revenue was the book's
    for row in expected:
        proof = (
            await ops.get(
                "/ops/v1/revenue/proof", params={"legal_entity": US_ENTITY, "period": row["month"]}
            )
        ).json()
        [usd] = proof["currencies"]
        assert (usd["deferred"], usd["erp_deferred"], usd["matched"]) == (
            row["deferred"],
            row["deferred"],
            True,
        ), row

    # the annual line's schedule holds each adjustment once, with its own lineage
    schedule = (await ops.get(f"/v1/invoices/{annual_invoice['id']}/revenue-schedule")).json()
    [line] = schedule["schedules"]
    assert [(a["source_type"], a["effective_on"]) for a in line["adjustments"]] == [
        ("amendment", on(2, 18).isoformat()),
        ("credit_memo", on(5, 20).isoformat()),
        ("amendment", on(6, 12).isoformat()),
        ("refund", on(7, 22).isoformat()),
    ]
    assert line["billed"] == sum(book.lines["annual"].earns.values())
    await ops.aclose()
