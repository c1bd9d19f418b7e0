"""Reading back what a workflow persisted, for assertions."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.models.workflow_run import WorkflowRunRow
from process_apis.runs.repository import get_run


async def stored_run(sessionmaker: async_sessionmaker[AsyncSession], run_id: str) -> WorkflowRunRow:
    """The run with its steps, as committed."""
    async with sessionmaker() as session:
        return await get_run(session, run_id)
