"""Usage reported to billing: per subscription item and billing period, on a schedule and
at the period's close, as Stripe usage records with `action=set`.

Why `set`: the gateway's table of distinct events is the truth, so each pass sends the
period's total so far, never a delta. Sending a total again (a retry, a replay after a
crash, two reporters) cannot count anything twice, whereas an `increment` sent twice
would, once billing forgot the idempotency key. Each pass has its own key
(`ledgergate:usage-pass:<id>`), so a resend of the same pass is answered from billing's
replay.

One pass of an item: read the billing subscription (the item and its current period;
the item and the metered price are made once when missing); in one transaction take the
item's report for that period under a lease, close the reports of periods billing has
invoiced since (their passes billing never accepted are voided, their events unstamped),
stamp the events no pass counted (the period's own, and older periods' ones, which are
carried), and record the pass; then send its total; then mark it accepted. A pass
billing refused stays pending: the next one sends a newer total, or closes the period.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from core.canonical.catalog import MeterAggregation
from core.models.base import utcnow
from core.models.price import PriceRow
from core.models.product import ProductRow
from core.models.subscription import SubscriptionRow
from core.models.usage_report import (
    UsagePassStatus,
    UsageReportPassRow,
    UsageReportRow,
    UsageReportStatus,
)
from core.quantity import SCALE
from events.outbox import record
from process_apis.deps import ProcessContext
from process_apis.references import save_refs
from process_apis.usage import report_store
from process_apis.usage.aggregation import Item, aggregate
from process_apis.usage.billing_item import MeteredItem, metered_item, metered_price
from process_apis.usage.events import reported
from process_apis.usage.periods import Period
from system_apis.billing.schemas import BillingSubscriptionStatus, BillingUsageReport
from system_apis.errors import BackendError
from system_apis.priority import Priority, prioritized

logger = logging.getLogger(__name__)

# A reporter holds an item this long while it talks to billing; a crashed one's lapses.
REPORT_LEASE = timedelta(minutes=2)


@dataclass
class ReportingPass:
    """What one reporting pass did, per item outcome."""

    outcomes: dict[str, int] = field(default_factory=dict)

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


@dataclass(frozen=True)
class Target:
    """An item ready to report: its rows' facts, read in one short transaction."""

    item: Item
    meter: str
    customer_id: str
    subscription_ref: str
    product_ref: str
    price: PriceRow


@dataclass(frozen=True)
class Planned:
    """The pass to send (None: nothing new), and the reports closed on the way."""

    report_id: int
    pass_id: int | None
    quantity: int
    closed: list[int]


class UsageReporter:
    def __init__(self, context: ProcessContext, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.context = context
        self.settings = context.settings.usage
        self.clock = clock

    async def run_once(self) -> ReportingPass:
        """Report every item with usage no pass counted, or a report still open, when due."""
        done = ReportingPass()
        async with self.context.sessionmaker() as session:
            items = await report_store.items_to_report(session, limit=self.settings.report_batch)
        for subscription_id, price_id in items:
            done.count(await self.report_item(subscription_id, price_id))
        if done.outcomes.get("reported") or done.outcomes.get("failed"):
            logger.info("usage.report.pass", extra=done.outcomes)
        return done

    async def report_item(self, subscription_id: str, price_id: str) -> str:
        """One pass of one item; its outcome (`reported`, `not_due`, `failed`, ...).

        Nobody waits on a report: its billing requests are informational, so they never
        take the share of billing's budget kept for live work."""
        with prioritized(Priority.INFORMATIONAL):
            return await self._report_item(subscription_id, price_id)

    async def _report_item(self, subscription_id: str, price_id: str) -> str:
        async with self.context.sessionmaker() as session:
            target = await self._target(session, subscription_id, price_id)
            if isinstance(target, str):
                return target
        try:
            billed = await self._billing_item(target)
        except BackendError as error:
            logger.warning("usage.report.billing_unavailable", extra={"error": repr(error)})
            return "failed"
        if billed.subscription.status == BillingSubscriptionStatus.CANCELED:
            await self._close_all(target.item, billed)
            return "canceled"
        period = Period(
            billed.subscription.current_period_start, billed.subscription.current_period_end
        )
        async with self.context.sessionmaker.begin() as session:
            planned = await self._plan(session, target, billed, period)
        if isinstance(planned, str):
            return planned
        outcome = "closed" if planned.closed else "up_to_date"
        if planned.pass_id is not None:
            outcome = await self._send(target, billed, period, planned)
        await self._read_invoiced(planned.closed, billed)
        return outcome

    async def _target(
        self, session: AsyncSession, subscription_id: str, price_id: str
    ) -> Target | str:
        subscription = await session.get(SubscriptionRow, subscription_id)
        price = await session.get(PriceRow, price_id)
        if subscription is None or price is None or price.meter is None:
            return "unknown"
        if subscription.billing_ref is None:
            return "not_in_billing"
        product = await session.get_one(ProductRow, price.product_id)
        if product.billing_ref is None:
            return "not_in_billing"
        item = Item(subscription_id, price_id, MeterAggregation(price.aggregation or "sum"))
        if not await self._due(session, item):
            return "not_due"
        return Target(
            item=item,
            meter=price.meter,
            customer_id=subscription.customer_id,
            subscription_ref=subscription.billing_ref,
            product_ref=product.billing_ref,
            price=price,
        )

    async def _due(self, session: AsyncSession, item: Item) -> bool:
        """Due when its open report's period is over (the close), a pass waits to be sent
        again, or events wait and the item was not reported within the interval (in the
        last interval of its period: on every pass)."""
        now, interval = self.clock(), self.settings.report_interval
        latest = await report_store.latest_open_report(session, item)
        if latest is not None:
            if latest.period_end <= now:
                return True
            last = await report_store.latest_pass(session, latest.id)
            if last is not None and last.status == UsagePassStatus.PENDING:
                return True
        if not await report_store.has_unreported(session, item):
            return False
        if latest is None or latest.reported_at is None:
            return True
        return now - latest.reported_at >= interval or latest.period_end - now <= interval

    async def _billing_item(self, target: Target) -> MeteredItem:
        billing = self.context.billing
        price_ref = await metered_price(billing, target.price, target.product_ref)
        if target.price.billing_ref != price_ref:
            await save_refs(
                self.context.sessionmaker, PriceRow, target.price.id, billing_ref=price_ref
            )
        return await metered_item(
            billing,
            subscription_ref=target.subscription_ref,
            subscription_id=target.item.subscription_id,
            price_ref=price_ref,
        )

    async def _plan(
        self, session: AsyncSession, target: Target, billed: MeteredItem, period: Period
    ) -> Planned | str:
        now, item = self.clock(), target.item
        report = await report_store.report_for(session, item, period)
        if not await report_store.take_lease(session, report.id, now=now, until=now + REPORT_LEASE):
            return "leased"
        closed = await self._close_before(session, item, billed, period)
        if await report_store.has_unreported(session, item, until=period.end):
            step: UsageReportPassRow | None = await self._new_pass(session, item, report, period)
        else:
            step = await report_store.latest_pass(session, report.id)
            if step is None or step.status != UsagePassStatus.PENDING:
                await report_store.release_lease(session, report.id)
                return Planned(report.id, None, 0, closed)
        assert step is not None
        return Planned(report.id, step.id, step.quantity, closed)

    async def _close_before(
        self, session: AsyncSession, item: Item, billed: MeteredItem, period: Period
    ) -> list[int]:
        """Close the reports of periods billing has invoiced: what billing held is billed."""
        closed = []
        for report in await report_store.open_reports_before(session, item, period.start):
            await report_store.void_pending(session, report.id)
            report.status = UsageReportStatus.CLOSED
            report.closed_at = self.clock()
            report.lease_until = None
            if report.period_end == period.start:  # billing's renewal invoice is its latest
                report.invoice_ref = billed.subscription.latest_invoice_id
            closed.append(report.id)
        return closed

    async def _new_pass(
        self, session: AsyncSession, item: Item, report: UsageReportRow, period: Period
    ) -> UsageReportPassRow:
        """Stamp what no pass counted; the period's own usage, and what was carried in."""
        step = UsageReportPassRow(
            report_id=report.id,
            status=UsagePassStatus.PENDING,
            own_micros=0,
            carried_micros=0,
            total_micros=0,
            quantity=0,
            events=0,
            created_at=self.clock(),
        )
        session.add(step)
        await session.flush()
        step.events = await report_store.stamp(session, item, step.id, period=period)
        carried = 0
        for source in await report_store.carried_periods(session, item, step.id, period=period):
            carried += await aggregate(session, item, source, through=step.id) - await aggregate(
                session, item, source, before=step.id
            )
        step.own_micros = await aggregate(session, item, period.start, through=step.id)
        step.carried_micros = carried
        step.total_micros = (
            step.own_micros + await report_store.carried_so_far(session, report.id) + carried
        )
        step.quantity = step.total_micros // SCALE
        return step

    async def _send(
        self, target: Target, billed: MeteredItem, period: Period, planned: Planned
    ) -> str:
        assert planned.pass_id is not None
        now = self.clock()
        last_second = period.end - timedelta(seconds=1)
        timestamp = min(max(now, period.start), last_second)
        try:
            await self.context.billing.report_usage(
                billed.item_id,
                BillingUsageReport(quantity=planned.quantity, timestamp=timestamp),
                idempotency_key=f"ledgergate:usage-pass:{planned.pass_id}",
            )
        except BackendError as error:
            logger.warning(
                "usage.report.refused",
                extra={"pass_id": planned.pass_id, "error": repr(error)},
            )
            async with self.context.sessionmaker.begin() as session:
                await report_store.release_lease(session, planned.report_id)
            return "failed"
        async with self.context.sessionmaker.begin() as session:
            report = await session.get_one(UsageReportRow, planned.report_id)
            step = await session.get_one(UsageReportPassRow, planned.pass_id)
            await report_store.accept_through(session, report.id, step.id, now)
            report.reported_micros = step.total_micros
            report.reported_at = now
            report.billing_item_ref = billed.item_id
            report.lease_until = None
            await record(
                session,
                reported(
                    report,
                    step,
                    customer_id=target.customer_id,
                    meter=target.meter,
                    billing_item_id=billed.item_id,
                ),
            )
        return "reported"

    async def _close_all(self, item: Item, billed: MeteredItem) -> None:
        """A canceled subscription bills no more usage: its open reports close as they are."""
        async with self.context.sessionmaker.begin() as session:
            period_end = billed.subscription.canceled_at or self.clock()
            closed = await self._close_before(session, item, billed, Period(period_end, period_end))
            for report_id in closed:
                report = await session.get_one(UsageReportRow, report_id)
                report.invoice_ref = billed.subscription.latest_invoice_id
        await self._read_invoiced(closed, billed)

    async def _read_invoiced(self, closed: list[int], billed: MeteredItem) -> None:
        """The quantity each closed report's invoice charged for the item (for the proof)."""
        for report_id in closed:
            async with self.context.sessionmaker() as session:
                report = await session.get_one(UsageReportRow, report_id)
                invoice_ref = report.invoice_ref
            if invoice_ref is None:
                continue
            try:
                invoice = await self.context.billing.get_invoice(invoice_ref)
            except BackendError as error:
                logger.warning("usage.report.invoice_unread", extra={"error": repr(error)})
                continue
            quantity = sum(
                line.quantity
                for line in invoice.lines or ()
                if line.price_id == billed.price_ref and not line.proration
            )
            async with self.context.sessionmaker.begin() as session:
                report = await session.get_one(UsageReportRow, report_id)
                report.invoiced_quantity = quantity
