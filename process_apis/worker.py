"""The background work: one pass drains the billing inbox, takes the posting batches
nobody holds, retries due runs of every workflow, reports usage to billing when due,
purges expired idempotency keys and usage events past their retention; beside them, the
schedules (the daily reconciliation, the monthly settlement), the outbound webhook
deliveries and the event relay, which publishes the outbox to the configured sinks
(`events.relay`).

The runs it retries are those of every workflow in `process_apis.workflows`, through
the replayer an operator's replay shares. `ledgergate worker`
runs the passes beside the gateway (production); `ledgergate serve` runs them in
process when `LEDGERGATE_BACKGROUND_WORK` is on (the default in development), so a
`202` posting completes by itself. Every kind of work claims with `SKIP LOCKED`, so
any number of processes run it side by side.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from core.metrics import SCHEDULE_RUNS
from events.relay import Relay
from events.relay import run_forever as relay_forever
from events.sinks import close_sinks, configured_sinks
from events.webhooks.context import WebhookContext
from events.webhooks.delivery import DeliveryPass, WebhookDelivery
from process_apis.billing_inbox import BillingInbox
from process_apis.deps import ProcessContext
from process_apis.dunning.schedule import DunningSchedule
from process_apis.gauges import OperationsGauges
from process_apis.idempotency import IdempotencyStore
from process_apis.orders.sync import OrderStatusSync
from process_apis.posting_batches.executor import PostingBatchExecutor
from process_apis.reconciliation import schedule as reconciliation_schedule
from process_apis.revenue.schedule import RecognitionSchedule
from process_apis.runs.replay import WORKER_BATCH
from process_apis.settlements.schedule import SettlementSchedule
from process_apis.usage.reporting import UsageReporter
from process_apis.usage.retention import UsagePurge
from process_apis.workflows import replayer

logger = logging.getLogger(__name__)

# How often the schedules look whether a job is due.
SCHEDULE_CHECK_SECONDS = 60.0
# How often the worker reads the operational gauges (queue, reconciliation, webhooks).
GAUGES_REFRESH_SECONDS = 15.0

T = TypeVar("T")


@dataclass
class PassReport:
    """What one pass did."""

    inbox: int = 0
    claimed: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    purged: int = 0
    usage_reported: int = 0
    reconciled: int = 0
    webhooks: int = 0
    published: int = 0

    def __str__(self) -> str:
        return (
            f"inbox {self.inbox} · claimed {self.claimed}: {self.outcomes} · purged {self.purged}"
            f" · usage reported {self.usage_reported}"
            f" · reconciled {self.reconciled} · webhook attempts {self.webhooks}"
            f" · published {self.published}"
        )


async def _counted(schedule: str, job: Awaitable[T]) -> T:
    """Await a schedule's check, counting it by outcome in `ledgergate_schedule_runs_total`."""
    try:
        result = await job
    except Exception:
        SCHEDULE_RUNS.labels(schedule, "failed").inc()
        raise
    SCHEDULE_RUNS.labels(schedule, "ok").inc()
    return result


def _busy(report: object) -> bool:
    """Whether a pass took a full batch, so more work is likely waiting."""
    if isinstance(report, PassReport):
        return report.claimed >= WORKER_BATCH
    return isinstance(report, DeliveryPass) and report.full


class BackgroundWork:
    def __init__(self, context: ProcessContext, *, webhooks: WebhookDelivery | None = None) -> None:
        self.context = context
        self.webhooks = webhooks or WebhookDelivery.from_context(
            WebhookContext.build(context.settings, context.sessionmaker)
        )
        self.inbox = BillingInbox(context)
        self.posting_batches = PostingBatchExecutor(context)
        self.replayer = replayer(context)
        self.keys = IdempotencyStore(context.sessionmaker, context.settings.idempotency_retention)
        self.usage = UsagePurge(context.sessionmaker, context.settings.usage)
        self.usage_reporter = UsageReporter(context)
        self.settlements = SettlementSchedule(context)
        self.revenue = RecognitionSchedule(context)
        self.dunning = DunningSchedule(context)
        self.orders = OrderStatusSync(context)
        self.gauges = OperationsGauges(context.sessionmaker)
        self.relay = Relay(
            context.sessionmaker,
            configured_sinks(context.settings.events, context.sessionmaker),
            batch=context.settings.events.relay_batch,
        )

    async def run_once(self) -> PassReport:
        """One pass of every kind of background work: the passes' work, the schedules, the
        events they recorded, then the webhook deliveries."""
        report = await self._pass()
        report.reconciled = await self._schedules()
        report.published = sum((await self.relay.run_once()).published.values())
        report.webhooks = (await self.webhooks.run_once()).attempted
        return report

    async def aclose(self) -> None:
        await self.webhooks.aclose()
        await close_sinks(list(self.relay.sinks))

    async def _schedules(self) -> int:
        """The jobs due on a calendar: the month to settle and to recognize, the accounts
        whose dunning grace has passed, the sales orders to read back from the ERP, the
        reconciliations (how many ran)."""
        await _counted("settlement", self.settlements.settle_due_month())
        await _counted("revenue_recognition", self.revenue.recognize_due_month())
        await _counted("dunning", self.dunning.suspend_due())
        await _counted("sales_order_sync", self.orders.run_once())
        return await _counted("reconciliation", reconciliation_schedule.run_due(self.context))

    async def _pass(self) -> PassReport:
        """The inbox first (it may queue runs), the due runs, the expired keys."""
        inbox = await self.inbox.drain()
        await self.posting_batches.resume_abandoned()
        replayed = await self.replayer.run_once()
        report = PassReport(
            inbox=inbox.consumed,
            claimed=replayed.claimed,
            outcomes=replayed.outcomes,
            purged=await self.keys.purge_expired() + await self.usage.run_once(),
            usage_reported=(await self.usage_reporter.run_once()).outcomes.get("reported", 0),
        )
        if report.inbox or report.claimed or report.purged:
            logger.info(
                "background.pass",
                extra={
                    "inbox": report.inbox,
                    "claimed": report.claimed,
                    "purged": report.purged,
                    **report.outcomes,
                },
            )
        return report

    async def run_forever(self, *, interval: float, stop: asyncio.Event) -> None:
        """Passes, schedules, the relay and webhook deliveries until `stop` is set, side by
        side, so a long scheduled job (a month's reconciliation) never holds up the retries,
        and a slow broker or webhook receiver never holds up either."""
        try:
            await asyncio.gather(
                self._loop(self._pass, interval=interval, stop=stop),
                self._loop(self._schedules, interval=SCHEDULE_CHECK_SECONDS, stop=stop),
                self._loop(self.webhooks.run_once, interval=interval, stop=stop),
                self._loop(self.gauges.refresh, interval=GAUGES_REFRESH_SECONDS, stop=stop),
                relay_forever(
                    self.relay,
                    self.context.sessionmaker.kw["bind"],
                    interval=self.context.settings.events.relay_interval_seconds,
                    stop=stop,
                ),
            )
        finally:
            await self.aclose()

    @staticmethod
    async def _loop(
        work: Callable[[], Awaitable[object]], *, interval: float, stop: asyncio.Event
    ) -> None:
        """`work` until `stop` is set; sleeps `interval` unless a pass left a full batch.

        A failed pass (the database restarting, say) is logged and tried again after
        `interval`: the loop outlives it.
        """
        while not stop.is_set():
            busy = False
            try:
                busy = _busy(await work())
            except Exception:
                logger.exception("background.pass.failed")
            if not busy:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=interval)
                except TimeoutError:
                    pass
