"""The worker's daily reconciliation: every legal entity's previous and current month.

Due once a UTC day from `reconciliation.daily_at_hour`; a month already reconciled by
the schedule today is skipped, so a restarted worker does not run it again. A failed
run is logged and kept with its error; the next day's runs are due as usual.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select

from core.errors import LedgergateError
from core.models.base import utcnow
from core.models.legal_entity import LegalEntityRow
from process_apis.deps import ProcessContext
from process_apis.reconciliation import service
from process_apis.reconciliation.periods import month_of, previous_month

logger = logging.getLogger(__name__)

TRIGGER = "schedule"


async def run_due(context: ProcessContext, *, now: datetime | None = None) -> int:
    """Run the reconciliations due now; how many ran."""
    settings = context.settings.reconciliation
    now = now or utcnow()
    if not settings.schedule_enabled or now.hour < settings.daily_at_hour:
        return 0
    periods = (previous_month(now.date()), month_of(now.date()))
    async with context.sessionmaker() as session:
        entities = list(
            await session.scalars(select(LegalEntityRow.id).order_by(LegalEntityRow.id))
        )
        due = [
            (entity, period)
            for entity in entities
            for period in periods
            if not await service.scheduled_today(
                session, legal_entity_id=entity, period=period, today=now
            )
        ]
    for entity, period in due:
        try:
            result = await service.reconcile(
                context, legal_entity_id=entity, period=period, trigger=TRIGGER
            )
        except LedgergateError as error:
            logger.warning(
                "reconciliation.scheduled.failed",
                extra={"legal_entity_id": entity, "period": period, "error": str(error)},
            )
            continue
        logger.info(
            "reconciliation.scheduled",
            extra={
                "legal_entity_id": entity,
                "period": period,
                "run_id": result.id,
                "clean": result.clean,
                "differences": result.difference_count,
            },
        )
    return len(due)
