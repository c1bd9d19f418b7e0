"""Persisted workflow runs and their steps: the process tier's memory of what it did."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.errors import ErrorClass
from core.models.base import Base, VersionedMixin


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PENDING_RETRY = "pending_retry"
    FAILED = "failed"
    RESOLVED = "resolved"  # an operator fixed it outside the gateway
    DISCARDED = "discarded"  # an operator gave it up; the subject is compensated
    REJECTED = "rejected"  # its caller was answered with a problem it can correct; not queued


class StepStatus(StrEnum):
    STARTED = "started"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


# The statuses of the runs the exception queue may show, as literal SQL: the predicate of
# the queue's partial index, which a query repeats word for word so that PostgreSQL (with
# bound parameters) and SQLite use the index (process_apis.runs.queue.queue_condition).
QUEUE_STATUSES = text(
    "status IN ({})".format(
        ", ".join(f"'{s}'" for s in (RunStatus.PENDING_RETRY, RunStatus.FAILED, RunStatus.RUNNING))
    )
)


class WorkflowRunRow(VersionedMixin, Base):
    __tablename__ = "workflow_runs"
    __table_args__ = (
        Index("ix_workflow_runs_queue", "status", "next_attempt_at"),
        # A subject's runs, and its latest of a workflow in one probe (every posting reads
        # its invoice's latest run and its customer's latest sync); an index of the subject
        # alone let the planner intersect it with the workflow's, which grows with every run.
        Index("ix_workflow_runs_subject_latest", "subject_id", "workflow", "created_at", "id"),
        # The exception queue of one legal entity, in the order it pages (newest id first).
        Index(
            "ix_workflow_runs_entity_queue",
            "legal_entity_id",
            "id",
            postgresql_where=QUEUE_STATUSES,
            sqlite_where=QUEUE_STATUSES,
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workflow: Mapped[str] = mapped_column(String(60), index=True)
    subject_id: Mapped[str] = mapped_column(String(40))
    status: Mapped[RunStatus] = mapped_column(String(20))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error_class: Mapped[ErrorClass | None] = mapped_column(String(20))
    error_type: Mapped[str | None] = mapped_column(String(200))
    error_detail: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    correlation_id: Mapped[str | None] = mapped_column(String(128))
    client_id: Mapped[str | None] = mapped_column(String(80))
    # The legal entity of the run's subject, when it has one (the queue filters on it).
    legal_entity_id: Mapped[str | None] = mapped_column(String(40))
    finished_at: Mapped[datetime | None]

    # Steps that share a sequence number (one step per item, as `check_eligibility:<tier>`)
    # read in the order they started, whatever order the database finds their rows in.
    steps: Mapped[list[WorkflowStepRow]] = relationship(
        lazy="raise",
        order_by="[WorkflowStepRow.sequence, WorkflowStepRow.started_at, WorkflowStepRow.id]",
    )


class WorkflowStepRow(Base):
    __tablename__ = "workflow_steps"
    __table_args__ = (UniqueConstraint("run_id", "name"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("workflow_runs.id"), index=True)
    sequence: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(60))
    status: Mapped[StepStatus] = mapped_column(String(20))
    request_digest: Mapped[str | None] = mapped_column(String(64))
    downstream_key: Mapped[str | None] = mapped_column(String(120))
    backend_ref: Mapped[str | None] = mapped_column(String(255))
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error_class: Mapped[ErrorClass | None] = mapped_column(String(20))
    error_detail: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
