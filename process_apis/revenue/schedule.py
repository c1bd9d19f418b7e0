"""The monthly recognition run the worker makes: the previous month, for every legal
entity that has not recognized it yet, from the configured day. An on-demand run
(`POST /ops/v1/revenue/recognition-runs`) goes through the same workflow and the same
once-per-month runs, so the two never recognize an entry twice."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

from core.errors import LedgergateError
from core.models.revenue import RecognitionRunRow
from process_apis.deps import ProcessContext
from process_apis.legal_entities.repository import list_legal_entities
from process_apis.revenue.workflow import RecognitionWorkflow

logger = logging.getLogger(__name__)

SCHEDULER = "revenue-schedule"


class RecognitionSchedule:
    def __init__(self, context: ProcessContext) -> None:
        self.context = context

    async def due(self) -> tuple[str, list[str]]:
        """The previous month and the legal entities that have not recognized it (none
        before the configured day, or when the schedule is off)."""
        settings = self.context.settings.revenue
        today = self.context.today()
        period_start = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
        period = f"{period_start:%Y-%m}"
        if not settings.schedule_enabled or today.day < settings.schedule_day:
            return period, []
        async with self.context.sessionmaker() as session:
            entities = await list_legal_entities(session)
            recognized = set(
                (
                    await session.scalars(
                        select(RecognitionRunRow.legal_entity_id).where(
                            RecognitionRunRow.period_start == period_start
                        )
                    )
                ).all()
            )
        return period, [entity.id for entity in entities if entity.id not in recognized]

    async def recognize_due_month(self) -> int:
        """The worker's turn: recognize the due month where due; a refusal is logged."""
        period, pending = await self.due()
        workflow = RecognitionWorkflow(self.context)
        for legal_entity_id in pending:
            try:
                result = await workflow.run_period(
                    period,
                    legal_entity_id=legal_entity_id,
                    client_id=SCHEDULER,
                    correlation_id=None,
                )
            except LedgergateError as error:
                logger.warning(
                    "revenue.schedule.failed",
                    extra={"legal_entity_id": legal_entity_id, "error": str(error)},
                )
                continue
            logger.info(
                "revenue.schedule.ran",
                extra={
                    "period": period,
                    "legal_entity_id": legal_entity_id,
                    "drawn_up": result.drawn_up,
                },
            )
        return len(pending)
