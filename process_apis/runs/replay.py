"""Replaying queued runs: the worker's batches and an operator's replay, resolve and discard.

Replays re-execute a run's steps; each step is idempotent downstream (it looks the
document up by its external number before it writes), so a replay after a crash
finds what the interrupted attempt created instead of creating it twice.

Each workflow joins the replayer by declaring, through `replays()`, how a run of
each of its workflow names is resumed and compensated.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol
from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.context import correlated
from core.errors import LedgergateError, NotFound
from core.models.base import utcnow
from core.models.workflow_run import RunStatus, WorkflowRunRow
from process_apis.runs.engine import RUN_LEASE
from process_apis.runs.errors import RunNotReplayable
from process_apis.runs.queue import check_replayable, claim, claim_due

logger = logging.getLogger(__name__)

WORKER_BATCH = 50


@dataclass(frozen=True)
class Replay:
    """How the replayer resumes one workflow's runs and compensates a discarded one."""

    resume: Callable[[str], Awaitable[object]]
    discard: Callable[[AsyncSession, WorkflowRunRow], Awaitable[None]] | None = None
    together: Callable[[list[str]], Awaitable[None]] | None = None
    """Resumes the worker's claimed runs of the workflow at once (bulk work), each
    recording its own outcome; without it they are resumed one by one."""


class Replayable(Protocol):
    def replays(self) -> Mapping[str, Replay]:
        """Each workflow name this workflow runs, with how its runs are replayed."""
        ...


@dataclass
class ReplayReport:
    claimed: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def add(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


class Replayer:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        workflows: Iterable[Replayable],
        *,
        lease: timedelta = RUN_LEASE,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.lease = lease
        self.registry: dict[str, Replay] = {}
        for workflow in workflows:
            for name, replay in workflow.replays().items():
                if name in self.registry:
                    raise ValueError(f"two workflows declare runs of {name!r}")
                self.registry[name] = replay

    async def _resume(self, run_id: str, workflow: str) -> str:
        """Run one claimed run under its own correlation id; returns its status afterwards."""
        with correlated(await self._correlation_id(run_id)):
            try:
                await self.registry[workflow].resume(run_id)
            except LedgergateError as error:  # recorded on the run by the workflow itself
                logger.info("replay.run.failed", extra={"run_id": run_id, "error": str(error)})
        return await self._status(run_id)

    async def _resume_together(
        self, run_ids: list[str], together: Callable[[list[str]], Awaitable[None]]
    ) -> list[str]:
        """Run claimed runs of one workflow at once; returns their statuses afterwards."""
        for run_id in run_ids:
            await self._correlation_id(run_id)
        await together(run_ids)
        return [await self._status(run_id) for run_id in run_ids]

    async def _status(self, run_id: str) -> str:
        async with self.sessionmaker() as session:
            run = await session.get_one(WorkflowRunRow, run_id)
            return str(run.status)

    async def _correlation_id(self, run_id: str) -> str:
        """The correlation id the run started with; one is given to a run that has none."""
        async with self.sessionmaker.begin() as session:
            run = await session.get_one(WorkflowRunRow, run_id)
            if run.correlation_id is None:
                run.correlation_id = str(uuid4())
            return run.correlation_id

    async def replay(self, run_id: str) -> str:
        """An operator's replay of one run, now, whatever its schedule."""
        workflow = await claim(self.sessionmaker, run_id, lease=self.lease)
        return await self._resume(run_id, workflow)

    async def run_once(self, *, limit: int = WORKER_BATCH) -> ReplayReport:
        """Claim the due runs and replay them: one by one, or a workflow's at once when it
        resumes its runs `together`."""
        report = ReplayReport()
        claimed = await claim_due(self.sessionmaker, limit=limit, lease=self.lease)
        report.claimed = len(claimed)
        grouped: dict[Callable[[list[str]], Awaitable[None]], list[str]] = defaultdict(list)
        for run_id, workflow in claimed:
            together = self.registry[workflow].together
            if together is None:
                report.add(await self._resume(run_id, workflow))
            else:
                grouped[together].append(run_id)
        for together, run_ids in grouped.items():
            for status in await self._resume_together(run_ids, together):
                report.add(status)
        return report

    async def close(self, run_id: str, *, status: RunStatus, note: str, operator: str) -> None:
        """Resolve (fixed elsewhere) or discard (given up, compensated) a queued run."""
        async with self.sessionmaker() as session:
            run = await session.get(WorkflowRunRow, run_id, with_for_update=True)
            if run is None:
                raise NotFound(f"no workflow run {run_id}")
            check_replayable(run)
            if status == RunStatus.DISCARDED:
                discard = self.registry[run.workflow].discard
                if discard is None:
                    raise RunNotReplayable(
                        f"a {run.workflow} run cannot be discarded", run_status=run.status
                    )
                await discard(session, run)
            run.status = status
            run.next_attempt_at = None
            run.finished_at = utcnow()
            run.result = {**(run.result or {}), "closed_by": operator, "note": note}
            await session.commit()
