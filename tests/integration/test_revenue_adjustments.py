"""A subscription's revenue schedule through its amendments, a refund and a lost dispute,
on SQLite and PostgreSQL: the upgrade's proration is scheduled over the days it serves,
the downgrade's credit reduces the months not recognized yet, the refund and the dispute
adjust the schedule once each (replayed: still once), and the waterfall equals the
test's own computation to the cent; an amendment applied before its ERP adjustment was
booked to deferred revenue is still moved there by the month's journal, one applied since
is not; and migration 0040 records the amendments applied before it from their runs."""

from __future__ import annotations

import importlib.util
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import delete, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from core.canonical.documents import CreditMemoKind, CreditMemoStatus
from core.ids import new_id
from core.models.amendment_proration import AmendmentProrationRow
from core.models.credit_memo import CreditMemoRow
from core.models.dispute import DisputeRow, DisputeStatus
from core.models.payment import PaymentRow, PaymentSource, PaymentStatus
from core.models.refund import RefundRow, RefundStatus
from core.models.revenue import (
    EntryKind,
    RevenueAdjustmentRow,
    RevenueEntryRow,
    RevenueScheduleRow,
)
from core.settings import RefundPolicy
from process_apis.billing_inbox import BillingInbox
from process_apis.payments.commissions import half_up
from process_apis.revenue import schedules
from process_apis.revenue.schedules import adjust_schedule
from process_apis.subscriptions.workflow import amendment as amendment_workflow
from sandboxes import stripe
from sandboxes.stripe.state import ManualClock, StripeState
from tests.conftest import Gateway
from tests.integration.test_credit_memos import posted_invoice
from tests.integration.test_disputes import dispute_charge
from tests.integration.test_posting_cost import counting
from tests.integration.test_refunds import WEBHOOK_URL, paid_order, refund, stripe_api
from tests.integration.test_subscriptions import (
    ENTERPRISE_USD,
    PRO_USD,
    amend,
    billing,
    ordered,
)
from tests.support.calendar import month_start, months_later
from tests.support.erps import ErpCase
from tests.support.invoices import ACME, invoice_body
from tests.support.revenue import (
    OPS,
    US_ENTITY,
    Book,
    month_key,
    proration_days,
    recognize,
    served_line,
    signed_net,
    split_by_days,
)

DAY = 24 * 3600


async def schedule_of(gateway: Gateway, invoice_id: str) -> dict[str, Any]:
    ops = await gateway.client_with(["invoices:read"])
    response = await ops.get(f"/v1/invoices/{invoice_id}/revenue-schedule")
    await ops.aclose()
    assert response.status_code == 200, response.text
    [schedule] = response.json()["schedules"]
    return dict(schedule)


async def adjustment_months(gateway: Gateway, source_id: str) -> dict[str, int]:
    """What the adjustment of `source_id` earns in each month (its recognition entries)."""
    async with gateway.sessionmaker() as session:
        rows = await session.execute(
            select(RevenueEntryRow.period, func.sum(RevenueEntryRow.amount))
            .join(RevenueAdjustmentRow, RevenueAdjustmentRow.id == RevenueEntryRow.adjustment_id)
            .where(
                RevenueAdjustmentRow.source_id == source_id,
                RevenueEntryRow.kind == EntryKind.RECOGNITION,
            )
            .group_by(RevenueEntryRow.period)
        )
        return {month_key(period): int(total) for period, total in rows.all()}


async def adjustment_sources(gateway: Gateway) -> Counter[tuple[str, str]]:
    async with gateway.sessionmaker() as session:
        rows = await session.execute(
            select(RevenueAdjustmentRow.source_type, RevenueAdjustmentRow.source_id)
        )
        return Counter((source_type, source_id) for source_type, source_id in rows.all())


def billing_from(gateway: Gateway, *, day: int) -> tuple[StripeState, ManualClock]:
    """Billing's state on a clock of its own from noon of `day` of this month; its webhooks
    signed at the real time, which the gateway checks them against."""
    state = billing(gateway)
    start = datetime.combine(month_start(0) + timedelta(days=day - 1), datetime.min.time(), UTC)
    clock = ManualClock(int(start.timestamp()) + 12 * 3600)
    state.clock = clock
    state.webhook_clock = lambda: int(time.time())
    return state, clock


async def test_amendments_a_refund_and_a_lost_dispute_adjust_the_schedule_once_each(
    gateway: Gateway,
) -> None:
    # billing's period starts on the 20th of this month, so it serves two months
    state, clock = billing_from(gateway, day=20)
    payment = await paid_order(gateway)
    invoice = (await gateway.client.get(f"/v1/invoices/{payment.invoice_id}")).json()
    [line] = invoice["lines"]
    served = (date.fromisoformat(line["service_period_start"]),)
    served += (date.fromisoformat(line["service_period_end"]),)
    book = Book()
    book.bill(
        "line", line["amount"], *served, date.fromisoformat(invoice["posting"]["posting_date"])
    )
    first, second = month_key(served[0]), month_key(served[1])
    assert first != second

    # an upgrade on the 25th: its proration is scheduled over the days it serves
    clock.advance(5 * DAY)
    response = await amend(gateway, invoice["subscription_id"], "up", price_id=ENTERPRISE_USD)
    assert response.status_code == 201, response.text
    upgrade = response.json()
    net = signed_net(upgrade)
    assert net > 0
    proration_start, proration_end = proration_days(upgrade)
    assert (proration_start, proration_end) == (served[0] + timedelta(days=5), served[1])
    schedule = await schedule_of(gateway, invoice["id"])
    [adjustment] = schedule["adjustments"]
    assert (adjustment["source_type"], adjustment["source_id"]) == (
        "amendment",
        upgrade["amendment_id"],
    )
    assert adjustment["amount"] == net
    earns = split_by_days(net, proration_start, proration_end)
    assert await adjustment_months(gateway, upgrade["amendment_id"]) == earns
    assert sum(earns.values()) == net
    book.lines["line"].earns = dict(Counter(book.lines["line"].earns) + Counter(earns))
    book.billed[month_key(date.fromisoformat(upgrade["erp_adjustment"]["posting_date"]))] += net
    assert schedule["billed"] == line["amount"] + net

    # the first month is recognized; then a downgrade changes the months after it only
    months_later(gateway.app, 1)
    ops = await gateway.client_with(OPS)
    [run] = (await recognize(ops, first, "rev-1"))["runs"]
    assert run["status"] == "posted", run
    before = (await schedule_of(gateway, invoice["id"]))["months"]
    recognized = {month["month"]: month["amount"] for month in before}
    clock.advance(11 * DAY)
    response = await amend(gateway, invoice["subscription_id"], "down", price_id=PRO_USD)
    assert response.status_code == 201, response.text
    downgrade = response.json()
    credit = signed_net(downgrade)
    assert credit < 0
    credit_start, credit_end = proration_days(downgrade)
    months = {m["month"]: m for m in (await schedule_of(gateway, invoice["id"]))["months"]}
    assert await adjustment_months(gateway, downgrade["amendment_id"]) == split_by_days(
        credit, credit_start, credit_end
    )
    assert months[first]["amount"] == months[first]["recognized"] == recognized[first]
    assert months[second]["amount"] == recognized[second] + credit
    line_earns = book.lines["line"].earns
    line_earns[second] += credit
    book.billed[month_key(date.fromisoformat(downgrade["erp_adjustment"]["posting_date"]))] += (
        credit
    )

    # a partial refund, then the charge disputed and lost
    inbox = BillingInbox(gateway.app.state.process)
    async with stripe_api(gateway) as client:
        await refund(client, payment, payment.amount // 4)
    await inbox.drain()
    lost = await dispute_charge(gateway, payment)
    await inbox.drain()
    await stripe.decide_dispute(state, lost, won=False)
    await inbox.drain()
    async with gateway.sessionmaker() as session:
        booked = await session.scalar(select(RefundRow))
        dispute = await session.scalar(select(DisputeRow))
        assert booked is not None
        assert booked.status == "booked"
        memo = await session.get_one(CreditMemoRow, booked.credit_memo_id)
    assert memo.kind == "refund"
    assert memo.posting_date is not None
    assert dispute is not None
    assert dispute.posting_date is not None
    # billing charged no tax: the net taken back is what was refunded and lost
    book.credit("line", booked.amount, memo.posting_date)
    book.credit("line", dispute.amount, dispute.posting_date)

    # replayed: every billing event again, and the schedule read again
    await stripe.deliver_events(state, list(state.events))
    await inbox.drain()
    schedule = await schedule_of(gateway, invoice["id"])
    assert sorted((a["source_type"], a["source_id"]) for a in schedule["adjustments"]) == [
        ("amendment", upgrade["amendment_id"]),
        ("amendment", downgrade["amendment_id"]),
        ("dispute", dispute.id),
        ("refund", booked.id),
    ]
    assert set((await adjustment_sources(gateway)).values()) == {1}
    assert schedule["billed"] == line["amount"] + net + credit - booked.amount - dispute.amount

    waterfall = await ops.get(
        "/ops/v1/revenue/waterfall",
        params={"legal_entity": US_ENTITY, "from": first, "to": second},
    )
    assert waterfall.status_code == 200, waterfall.text
    expected = book.waterfall([first, second])
    assert waterfall.json()["months"] == expected

    # the second month recognized: at each month's end the ERP's deferred revenue is what
    # the schedule defers
    months_later(gateway.app, 2)
    [run] = (await recognize(ops, second, "rev-2"))["runs"]
    assert run["status"] == "posted", run
    for month, then in zip((first, second), expected, strict=True):
        proof = await ops.get(
            "/ops/v1/revenue/proof", params={"legal_entity": US_ENTITY, "period": month}
        )
        [usd] = proof.json()["currencies"]
        deferred = then["deferred"]
        assert (usd["deferred"], usd["journaled_deferred"], usd["erp_deferred"]) == (deferred,) * 3
        assert usd["matched"] is True
    await ops.aclose()


async def test_a_refund_and_a_lost_dispute_take_back_their_net_of_tax_once(
    gateway: Gateway,
) -> None:
    """Of a taxed invoice: a refund's own credit memo counts as the refund, for its net;
    a refund memo a schedule counted as a credit memo already is not counted again."""
    body = invoice_body(ACME, lines=(("Pro, two months", 1, 61000, "STANDARD"),))
    served_line(body, "Pro, two months", month_start(0), month_start(2) - timedelta(days=1))
    invoice = await posted_invoice(gateway, body)
    subtotal, total = invoice["subtotal"], invoice["total"]
    assert total > subtotal
    today = date.today()
    common = {
        "invoice_id": invoice["id"],
        "customer_id": ACME,
        "legal_entity_id": US_ENTITY,
        "currency": "USD",
    }
    payment = PaymentRow(
        id=new_id("payment"),
        **common,
        amount=total,
        paid_on=today,
        source=PaymentSource.BILLING,
        status=PaymentStatus.APPLIED,
        charge_ref="ch_taxed",
    )

    def refunded(source_ref: str, amount: int) -> tuple[CreditMemoRow, RefundRow]:
        memo = CreditMemoRow(
            id=new_id("credit_memo"),
            **common,
            amount=amount,
            reason_code="refund",
            status=CreditMemoStatus.POSTED,
            kind=CreditMemoKind.REFUND,
            posting_date=today,
        )
        refund_row = RefundRow(
            id=new_id("refund"),
            payment_id=payment.id,
            **common,
            amount=amount,
            source_ref=source_ref,
            charge_ref="ch_taxed",
            refunded_on=today,
            policy=RefundPolicy.CREDIT_MEMO_AND_REFUND,
            status=RefundStatus.BOOKED,
            credit_memo_id=memo.id,
        )
        return memo, refund_row

    earlier_memo, earlier = refunded("re_earlier", 1001)
    memo, later = refunded("re_later", 3333)
    lost = DisputeRow(
        id=new_id("dispute"),
        payment_id=payment.id,
        **common,
        amount=9999,
        source_ref="dp_taxed",
        charge_ref="ch_taxed",
        status=DisputeStatus.LOST,
        opened_on=today,
        closed_on=today,
        fee=1500,
        erp_document_number="DSP-1",
        posting_date=today,
    )
    async with gateway.sessionmaker() as session:
        session.add(payment)
        session.add_all([earlier_memo, memo])
        await session.flush()
        await schedules.sync(
            session, settings=gateway.app.state.process.settings.revenue, today=today
        )
        # the earlier refund's memo was counted as a credit memo, before refunds counted
        [schedule] = await session.scalars(
            select(RevenueScheduleRow).where(RevenueScheduleRow.invoice_id == invoice["id"])
        )
        await adjust_schedule(
            session,
            schedule,
            source_type="credit_memo",
            source_id=earlier_memo.id,
            amount=-1001,
            effective_on=today,
        )
        session.add_all([earlier, later, lost])
        await session.commit()

    for _ in range(2):  # read twice: synced twice
        found = (await schedule_of(gateway, invoice["id"]))["adjustments"]
        assert sorted((a["source_type"], a["source_id"], a["amount"]) for a in found) == sorted(
            [
                ("credit_memo", earlier_memo.id, -1001),
                ("refund", later.id, -half_up(3333 * subtotal, total)),
                ("dispute", lost.id, -half_up(9999 * subtotal, total)),
            ]
        )


def _record_applied_amendments(connection: Connection) -> None:
    """Migration 0040's backfill, run on `connection`."""
    path = Path(__file__).parents[2] / "migrations/versions/0040_amendment_prorations.py"
    spec = importlib.util.spec_from_file_location("migration_0040", path)
    assert spec is not None
    assert spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    with Operations.context(MigrationContext.configure(connection)):
        migration._record_applied_amendments()


async def test_the_migration_records_the_amendments_applied_before_it(gateway: Gateway) -> None:
    clock = ManualClock(int(time.time()))
    billing(gateway).clock = clock
    subscription = (await ordered(gateway))["subscription"]
    for key, change in (("up", {"price_id": ENTERPRISE_USD}), ("down", {"quantity": 1})):
        clock.advance(DAY)
        response = await amend(gateway, subscription["id"], key, **change)
        assert response.status_code == 201, response.text
    async with gateway.sessionmaker() as session:
        recorded = {
            row.id: (row.amount, row.service_start, row.service_end, row.posting_date)
            for row in await session.scalars(select(AmendmentProrationRow))
        }
        await session.execute(delete(AmendmentProrationRow))
        await session.commit()
    assert len(recorded) == 2
    assert sorted(amount > 0 for amount, *_ in recorded.values()) == [False, True]

    async with gateway.sessionmaker() as session:
        connection = await session.connection()
        await connection.run_sync(_record_applied_amendments)
        await session.commit()
        backfilled = {
            row.id: (row.amount, row.service_start, row.service_end, row.posting_date)
            for row in await session.scalars(select(AmendmentProrationRow))
        }
    assert backfilled == recorded


async def test_an_amendment_before_its_invoice_is_registered_adjusts_the_open_months_later(
    gateway: Gateway,
) -> None:
    """Billing's invoice for the period reaches the gateway after the upgrade and after
    the upgrade's first month was recognized: the proration is earned over its days in the
    months still open."""
    state, clock = billing_from(gateway, day=20)
    subscription = (await ordered(gateway))["subscription"]
    clock.advance(5 * DAY)
    response = await amend(gateway, subscription["id"], "up", price_id=ENTERPRISE_USD)
    assert response.status_code == 201, response.text
    upgrade = response.json()
    proration_start, proration_end = proration_days(upgrade)
    assert month_key(proration_start) == month_key(month_start(0))

    months_later(gateway.app, 1)
    ops = await gateway.client_with(OPS)
    [run] = (await recognize(ops, month_key(month_start(0)), "rev-early"))["runs"]
    assert run["status"] == "empty", run
    await ops.aclose()
    state.webhook_endpoints.append(
        stripe.WebhookEndpoint(url=WEBHOOK_URL, secret="whsec_sandbox", app=gateway.app)
    )
    await stripe.deliver_events(state, list(state.events))
    [invoice_id] = (await BillingInbox(gateway.app.state.process).drain()).invoices

    [adjustment] = (await schedule_of(gateway, invoice_id))["adjustments"]
    net = signed_net(upgrade)
    open_month = month_start(1)
    assert (adjustment["source_id"], adjustment["amount"]) == (upgrade["amendment_id"], net)
    assert adjustment["replanned_from"] == open_month.isoformat()
    assert await adjustment_months(gateway, upgrade["amendment_id"]) == split_by_days(
        net, open_month, proration_end
    )


async def entry_kinds(gateway: Gateway, source_id: str) -> list[str]:
    """The kinds of the billed entries of the adjustment of `source_id`."""
    async with gateway.sessionmaker() as session:
        kinds = await session.scalars(
            select(RevenueEntryRow.kind)
            .join(RevenueAdjustmentRow, RevenueAdjustmentRow.id == RevenueEntryRow.adjustment_id)
            .where(
                RevenueAdjustmentRow.source_id == source_id,
                RevenueEntryRow.kind != EntryKind.RECOGNITION,
            )
        )
        return [str(kind) for kind in kinds.all()]


def booked_to_revenue(monkeypatch: pytest.MonkeyPatch) -> None:
    """Amendments applied as before their ERP adjustments were booked to deferred revenue:
    the adjustment's line on the item's revenue account, no account on the proration."""
    lines, row = amendment_workflow._adjustment_lines, amendment_workflow.proration_row

    def revenue_lines(*args: Any) -> Any:
        found, due = lines(*args)
        return tuple(line.model_copy(update={"account_number": None}) for line in found), due

    def unbooked_row(*args: Any, **kwargs: Any) -> Any:
        return row(*args, **{**kwargs, "deferred_account": None})

    monkeypatch.setattr(amendment_workflow, "_adjustment_lines", revenue_lines)
    monkeypatch.setattr(amendment_workflow, "proration_row", unbooked_row)


async def test_an_amendment_booked_to_revenue_before_is_still_deferred_by_the_journal(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An upgrade applied before amendments booked to deferred revenue, then a downgrade
    applied since, in one month: the ERP's deferred revenue account holds the invoice and
    the downgrade's credit memo; the month's journal moves the upgrade only into deferred
    revenue, and the ERP agrees with the schedule."""
    state, clock = billing_from(gateway, day=10)
    payment = await paid_order(gateway)
    invoice = (await gateway.client.get(f"/v1/invoices/{payment.invoice_id}")).json()
    [line] = invoice["lines"]
    erp = ErpCase("business_central", gateway)

    booked_to_revenue(monkeypatch)
    clock.advance(5 * DAY)
    response = await amend(gateway, invoice["subscription_id"], "up", price_id=ENTERPRISE_USD)
    assert response.status_code == 201, response.text
    upgrade = response.json()
    monkeypatch.undo()
    clock.advance(5 * DAY)
    response = await amend(gateway, invoice["subscription_id"], "down", price_id=PRO_USD)
    assert response.status_code == 201, response.text
    downgrade = response.json()
    up, down = signed_net(upgrade), signed_net(downgrade)
    assert up > 0 > down

    # in the ERP's deferred revenue: the invoice's line and the downgrade's credit memo
    documents = {
        invoice["posting"]["erp_document_number"]: line["amount"],
        downgrade["erp_adjustment"]["document_number"]: down,
    }
    assert sorted(
        (number, credit - debit) for number, debit, credit in erp.account_entries("24000")
    ) == sorted(documents.items())
    schedule = await schedule_of(gateway, invoice["id"])
    assert sorted(a["source_id"] for a in schedule["adjustments"]) == sorted(
        [upgrade["amendment_id"], downgrade["amendment_id"]]
    )
    assert await entry_kinds(gateway, upgrade["amendment_id"]) == [EntryKind.DEFERRAL]
    assert await entry_kinds(gateway, downgrade["amendment_id"]) == [EntryKind.BOOKED]

    # the month's journal defers the upgrade booked to revenue, and nothing else
    first = month_key(month_start(0))
    months_later(gateway.app, 1)
    ops = await gateway.client_with(OPS)
    [run] = (await recognize(ops, first, "rev-legacy"))["runs"]
    assert (run["status"], run["deferred_total"]) == ("posted", up), run
    proof = await ops.get(
        "/ops/v1/revenue/proof", params={"legal_entity": US_ENTITY, "period": first}
    )
    [usd] = proof.json()["currencies"]
    assert usd["billed"] == line["amount"] + up + down
    assert usd["deferred"] == usd["billed"] - run["recognized_total"]
    assert (usd["journaled_deferred"], usd["erp_deferred"]) == (usd["deferred"],) * 2
    assert usd["matched"] is True
    await ops.aclose()


# A sync with nothing new: the lines without a schedule, and every source's new documents
# in one query (one query per source before, six in all with the refund, dispute and
# amendment sources).
SYNC_STATEMENTS = 2


async def test_a_sync_with_nothing_new_costs_two_statements(gateway: Gateway) -> None:
    body = invoice_body(ACME, lines=(("Pro, two months", 1, 61000, "STANDARD"),))
    served_line(body, "Pro, two months", month_start(0), month_start(2) - timedelta(days=1))
    await posted_invoice(gateway, body)
    settings = gateway.app.state.process.settings.revenue
    engine: AsyncEngine = gateway.sessionmaker.kw["bind"]
    async with gateway.sessionmaker() as session:
        await schedules.sync(session, settings=settings, today=date.today())
        await session.commit()
        await session.connection()  # the transaction's own BEGIN is not the sync's
        with counting(engine) as (seen, statements):
            await schedules.sync(session, settings=settings, today=date.today())
    # Statements by their first word (`counting` also notes an expanded IN list: not one)
    assert sum(n for kind, n in seen.items() if kind.isupper()) == SYNC_STATEMENTS, statements
