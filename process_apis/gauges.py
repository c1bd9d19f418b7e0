"""Operational gauges read from the database: the exception queue, reconciliation
differences and webhook endpoints, refreshed by the background worker.

A label set that is gone from the database (a queue emptied) is removed from its gauge,
so a resolved alert clears instead of showing the last value forever.
"""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import Gauge
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.metrics import (
    QUEUE_DEPTH,
    QUEUE_OLDEST_AGE,
    RECONCILIATION_DIFFERENCES,
    WEBHOOK_ENDPOINTS,
)
from core.models.base import utcnow
from core.models.reconciliation import ReconciliationRunRow
from core.models.webhook_endpoint import EndpointStatus, WebhookEndpointRow
from core.models.workflow_run import WorkflowRunRow
from process_apis.reconciliation.periods import month_of, previous_month
from process_apis.runs.queue import queue_condition

Labels = tuple[str, ...]
COMPLETED = "completed"


class OperationsGauges:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker
        self._shown: dict[str, set[Labels]] = {}

    async def refresh(self) -> None:
        now = utcnow()
        async with self.sessionmaker() as session:
            depth, oldest = await _queue(session, now)
            differences = await _differences(session, now)
            endpoints = await _endpoints(session)
        self._set(QUEUE_DEPTH, depth)
        self._set(QUEUE_OLDEST_AGE, oldest)
        self._set(RECONCILIATION_DIFFERENCES, differences)
        self._set(WEBHOOK_ENDPOINTS, endpoints)

    def _set(self, gauge: Gauge, values: dict[Labels, float]) -> None:
        for gone in self._shown.get(gauge._name, set()) - values.keys():
            gauge.remove(*gone)
        for labels, value in values.items():
            gauge.labels(*labels).set(value)
        self._shown[gauge._name] = set(values)


def _aware(moment: datetime) -> datetime:
    """Aggregates bypass the column type on SQLite, which hands back naive UTC text."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def _queue(
    session: AsyncSession, now: datetime
) -> tuple[dict[Labels, float], dict[Labels, float]]:
    rows = await session.execute(
        select(
            WorkflowRunRow.workflow,
            WorkflowRunRow.error_class,
            func.count(),
            func.min(WorkflowRunRow.created_at),
        )
        .where(queue_condition(now))
        .group_by(WorkflowRunRow.workflow, WorkflowRunRow.error_class)
    )
    depth: dict[Labels, float] = {}
    oldest: dict[Labels, float] = {}
    for workflow, error_class, count, first in rows.all():
        labels: Labels = (workflow, str(error_class or "unclassified"))
        depth[labels] = float(count)
        oldest[labels] = max(0.0, (now - _aware(first)).total_seconds())
    return depth, oldest


async def _differences(session: AsyncSession, now: datetime) -> dict[Labels, float]:
    """The latest completed run of each legal entity for this month and the previous one."""
    periods = (month_of(now.date()), previous_month(now.date()))
    latest = (
        select(
            ReconciliationRunRow.legal_entity_id,
            ReconciliationRunRow.period,
            func.max(ReconciliationRunRow.started_at).label("started_at"),
        )
        .where(ReconciliationRunRow.period.in_(periods), ReconciliationRunRow.status == COMPLETED)
        .group_by(ReconciliationRunRow.legal_entity_id, ReconciliationRunRow.period)
        .subquery()
    )
    rows = await session.execute(
        select(
            ReconciliationRunRow.legal_entity_id,
            ReconciliationRunRow.period,
            ReconciliationRunRow.difference_count,
        ).join(
            latest,
            (latest.c.legal_entity_id == ReconciliationRunRow.legal_entity_id)
            & (latest.c.period == ReconciliationRunRow.period)
            & (latest.c.started_at == ReconciliationRunRow.started_at),
        )
    )
    return {(entity, period): float(count) for entity, period, count in rows.all()}


async def _endpoints(session: AsyncSession) -> dict[Labels, float]:
    rows = await session.execute(
        select(WebhookEndpointRow.status, func.count())
        .where(WebhookEndpointRow.status != EndpointStatus.DELETED)
        .group_by(WebhookEndpointRow.status)
    )
    counts: dict[Labels, float] = {
        (EndpointStatus.ENABLED.value,): 0.0,
        (EndpointStatus.DISABLED.value,): 0.0,
    }
    for status, n in rows.all():
        counts[(str(status),)] = float(n)
    return counts
