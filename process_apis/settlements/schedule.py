"""The monthly settlement run the worker makes: the previous month, once it may be settled.

From the configured day of each month the worker settles the previous month for every
legal entity that has not settled it yet (and, for an entity that settles closed months
only, once its accounting period is closed). Once every entity has settled it, a poll
costs two reads. An on-demand run (`POST /v1/settlement-runs`, `ledgergate settle`)
goes through the same workflow and the same once-per-month record, so the two never
settle a commission twice.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

from sqlalchemy import select

from core.errors import LedgergateError
from core.models.settlement_period import SettlementPeriodRow
from process_apis.deps import ProcessContext
from process_apis.legal_entities.repository import list_legal_entities
from process_apis.settlements.schemas import SettlementRunResult, period_bounds
from process_apis.settlements.service import awaits_period_close
from process_apis.settlements.workflow import SettlementPostingWorkflow

logger = logging.getLogger(__name__)

SCHEDULER = "settlement-schedule"


def previous_month(today: date) -> str:
    return (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")


class SettlementSchedule:
    def __init__(self, context: ProcessContext) -> None:
        self.context = context

    async def due_period(self) -> str | None:
        """The month to settle now, or None: not the day yet, disabled, or settled."""
        settings = self.context.settings.settlements
        today = self.context.today()
        if not settings.schedule_enabled or today.day < settings.schedule_day:
            return None
        period = previous_month(today)
        period_start, period_end = period_bounds(period)
        async with self.context.sessionmaker() as session:
            entities = await list_legal_entities(session)
            settled = set(
                (
                    await session.scalars(
                        select(SettlementPeriodRow.legal_entity_id).where(
                            SettlementPeriodRow.period_start == period_start
                        )
                    )
                ).all()
            )
        pending = [
            entity
            for entity in entities
            if entity.id not in settled
            and not awaits_period_close(
                entity, period_end, after_period_close=settings.after_period_close
            )
        ]
        return period if pending else None

    async def run_due(self) -> SettlementRunResult | None:
        """Settle the due month, if one is due."""
        period = await self.due_period()
        if period is None:
            return None
        return await SettlementPostingWorkflow(self.context).run_period(
            period, client_id=SCHEDULER, correlation_id=None
        )

    async def settle_due_month(self) -> None:
        """The worker's turn: settle the due month, if any; a refusal is logged, not raised."""
        try:
            result = await self.run_due()
        except LedgergateError as error:
            logger.warning("settlement.schedule.failed", extra={"error": str(error)})
            return
        if result is not None:
            logger.info(
                "settlement.schedule.ran",
                extra={"period": result.period, "drawn_up": result.drawn_up},
            )
