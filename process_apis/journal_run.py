"""A workflow that books one journal entry for its subject (a settlement, a recognition
run, or the reversal of either) as a persisted run: `book`, `resume` and, for postings,
`discard` are the same whatever the subject; a subclass says how its subject is prepared
(`prepare`: the plan to book, or the subject as it is when there is nothing to book),
recorded once its entry is booked (`record`) and read (`read`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import LedgergateError
from core.models.workflow_run import WorkflowRunRow
from process_apis.deps import ProcessContext
from process_apis.journal_booking import JournalPlan, attempt_booking
from process_apis.runs.engine import Engine
from process_apis.runs.replay import Replay
from process_apis.runs.repository import succeeded_step
from system_apis.erp.schemas import ErpJournalEntry

R = TypeVar("R")


@dataclass(frozen=True)
class Booking:
    """Who asks for a subject's entry and with what: a request's, or its queued run's."""

    params: Mapping[str, Any]
    client_id: str | None
    correlation_id: str | None
    claimed_run_id: str | None = None


class JournalRun(ABC, Generic[R]):
    """Booking a subject's entry: its run prepared in one transaction, the three journal
    steps with none open, the outcome recorded in another."""

    workflow: ClassVar[str]
    # Ensure the journal, add the entry, post it.
    steps: ClassVar[tuple[str, str, str]]

    def __init__(self, context: ProcessContext) -> None:
        self.context = context
        self.engine = Engine(
            context.sessionmaker, steps=self.steps, lease=context.settings.run_lease
        )

    def replays(self) -> dict[str, Replay]:
        return {self.workflow: Replay(resume=self.resume)}

    async def book(self, subject_id: str, booking: Booking) -> R:
        """Book the subject's entry; the subject as it is when it has none to book, or
        when a transient failure queued the run."""
        plan = await self.prepare(subject_id, booking)
        if not isinstance(plan, JournalPlan):
            return plan
        entry = await attempt_booking(self.engine, self.context.erp, plan, steps=self.steps)
        if entry is None:
            return await self.read(subject_id)
        return await self.record(plan, entry)

    async def resume(self, run_id: str) -> R:
        run = await self.engine.load(run_id)
        return await self.book(
            run.subject_id, Booking(run.params, run.client_id, run.correlation_id, run_id)
        )

    def take(
        self,
        session: AsyncSession,
        latest: WorkflowRunRow | None,
        *,
        subject_id: str,
        legal_entity_id: str | None,
        params: dict[str, Any],
        booking: Booking,
    ) -> WorkflowRunRow:
        """The subject's run for `booking` (see `Engine.take`), keeping `params`."""
        return self.engine.take(
            session,
            latest,
            workflow=self.workflow,
            subject_id=subject_id,
            legal_entity_id=legal_entity_id,
            params=params,
            correlation_id=booking.correlation_id,
            client_id=booking.client_id,
            claimed_run_id=booking.claimed_run_id,
        )

    @abstractmethod
    async def read(self, subject_id: str) -> R:
        """The subject as it is."""

    @abstractmethod
    async def prepare(self, subject_id: str, booking: Booking) -> JournalPlan | R:
        """The plan, its run taken and committed; or the subject when nothing is to book."""

    @abstractmethod
    async def record(self, plan: JournalPlan, entry: ErpJournalEntry) -> R:
        """The subject once `entry` is booked: its status, its run succeeded, its event."""


class PostingJournalRun(JournalRun[R]):
    """A subject's first entry: discarding its queued run voids a subject whose entry the
    ERP journal never held (one it holds stays: replay the run to finish)."""

    def replays(self) -> dict[str, Replay]:
        return {self.workflow: Replay(resume=self.resume, discard=self.discard)}

    async def discard(self, session: AsyncSession, run: WorkflowRunRow) -> None:
        if not await self.lock_unposted(session, run.subject_id):
            return
        if await succeeded_step(session, run.id, self.steps[1]) is not None:
            raise self.in_journal(run.subject_id)
        await self.void(session, run.subject_id)

    @abstractmethod
    async def lock_unposted(self, session: AsyncSession, subject_id: str) -> bool:
        """Lock the subject; whether it is still to be posted."""

    @abstractmethod
    def in_journal(self, subject_id: str) -> LedgergateError:
        """The refusal of a discard whose entry is in the ERP journal."""

    @abstractmethod
    async def void(self, session: AsyncSession, subject_id: str) -> None:
        """The subject voided, and what it took freed for the next run."""
