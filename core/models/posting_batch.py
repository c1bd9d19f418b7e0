"""Posting batches: many invoices posted to the ERP as bulk work, nobody waiting.

A batch is `queued` when accepted, `running` while a process holds its lease
(`lease_until`; a process that died leaves it for another to take), and `completed`
once every item has an outcome. Each item is one invoice with its own posting run
(`run_id`) and outcome: `pending` (not started), `posted`, `already_posted`,
`queued` (its run waits in the exception queue for a retry), `failed` (its run waits
for a person) or `refused` (it could not start: another run holds the invoice, or its
status allows no posting).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, TimestampMixin


class BatchStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"


class ItemOutcome(StrEnum):
    PENDING = "pending"
    POSTED = "posted"
    ALREADY_POSTED = "already_posted"
    QUEUED = "queued"
    FAILED = "failed"
    REFUSED = "refused"


class PostingBatchRow(TimestampMixin, Base):
    __tablename__ = "posting_batches"
    __table_args__ = (Index("ix_posting_batches_status_lease", "status", "lease_until"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(80))
    correlation_id: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[BatchStatus] = mapped_column(String(20))
    lease_until: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class PostingBatchItemRow(Base):
    __tablename__ = "posting_batch_items"

    batch_id: Mapped[str] = mapped_column(ForeignKey("posting_batches.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.id"), index=True)
    outcome: Mapped[ItemOutcome] = mapped_column(String(20))
    run_id: Mapped[str | None] = mapped_column(String(40))
    error_type: Mapped[str | None] = mapped_column(String(255))
    error_detail: Mapped[str | None] = mapped_column(String(1000))
