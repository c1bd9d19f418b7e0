"""The worker's daily look at dunning: accounts whose grace has passed are suspended."""

from __future__ import annotations

import logging
from uuid import uuid4

from core.context import correlated
from core.errors import LedgergateError
from process_apis.deps import ProcessContext
from process_apis.dunning.cases import due_for_suspension, suspend_case
from process_apis.dunning.workflow import AccountStatusWorkflow

logger = logging.getLogger(__name__)

BATCH = 50


class DunningSchedule:
    def __init__(self, context: ProcessContext) -> None:
        self.context = context
        self.workflow = AccountStatusWorkflow(context)

    async def suspend_due(self) -> int:
        """Suspend the cases whose grace ended by today (`ProcessContext.today`); each case
        changes and gets its run in one transaction, then the runs are carried out."""
        async with self.context.sessionmaker.begin() as session:
            runs = []
            for case in await due_for_suspension(session, self.context.today(), limit=BATCH):
                await suspend_case(session, case)
                runs.append(await self.workflow.new_run(session, case, suspend=True))
        for run_id in runs:
            try:
                with correlated(str(uuid4())):
                    await self.workflow.execute(run_id)
            except LedgergateError as error:  # recorded on the run, which waits in the queue
                logger.info(
                    "dunning.suspension_failed", extra={"run_id": run_id, "error": str(error)}
                )
        return len(runs)
