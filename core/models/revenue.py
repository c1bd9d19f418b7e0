"""Revenue recognition: the rule per product, a schedule per billed line with a service
period, its adjustments, its entries by month, and the monthly recognition runs.

Entries are append-only: a schedule's plan is one `recognition` entry per month and one
entry for what was billed: `booked` when the invoice line was posted to deferred revenue,
`deferral` when it was posted to revenue (the recognition journal moves it); an
adjustment (a credit memo, a refund, a dispute lost, an amendment's proration) adds
entries of its own for the months not yet recognized, never changing one a run has
taken. A run takes every entry of its legal entity and currency up to its month
(`run_id`), set-based; reversing a run frees them for the next run.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import BackendRefsMixin, Base, VersionedMixin, utcnow


class RecognitionMethod(StrEnum):
    RATABLE_DAILY = "ratable_daily"  # spread over the service period's days
    POINT_IN_TIME = "point_in_time"  # all in the month the service period starts


class EntryKind(StrEnum):
    DEFERRAL = "deferral"  # billed (or credited) into deferred revenue by the journal
    BOOKED = "booked"  # billed (or credited) into deferred revenue by the document itself
    RECOGNITION = "recognition"  # earned: deferred revenue to revenue


class RecognitionRunStatus(StrEnum):
    DRAFT = "draft"
    POSTED = "posted"
    EMPTY = "empty"  # nothing to recognize: no journal
    REVERSED = "reversed"  # its journal reversed in the ERP; its entries free again
    VOID = "void"  # given up before its entry reached the ERP; its entries free again


class RevenueRuleRow(VersionedMixin, Base):
    """How a product's billed lines are recognized (reference data); without a rule, ratably."""

    __tablename__ = "revenue_rules"

    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"), primary_key=True)
    method: Mapped[RecognitionMethod] = mapped_column(String(20))


class RevenueScheduleRow(Base):
    __tablename__ = "revenue_schedules"
    __table_args__ = (Index("ix_revenue_schedules_entity", "legal_entity_id", "currency"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.id"), index=True)
    invoice_line_id: Mapped[str] = mapped_column(ForeignKey("invoice_lines.id"), unique=True)
    legal_entity_id: Mapped[str] = mapped_column(ForeignKey("legal_entities.id"))
    currency: Mapped[str] = mapped_column(String(3))
    product_id: Mapped[str | None] = mapped_column(String(40))
    method: Mapped[RecognitionMethod] = mapped_column(String(20))
    service_start: Mapped[date] = mapped_column(Date)
    service_end: Mapped[date] = mapped_column(Date)
    billed_on: Mapped[date] = mapped_column(Date)
    amount: Mapped[int] = mapped_column(BigInteger)
    deferred_account: Mapped[str] = mapped_column(String(20))
    revenue_account: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RevenueAdjustmentRow(Base):
    """A change of what a schedule earns, from a document after its invoice (its lineage)."""

    __tablename__ = "revenue_adjustments"
    __table_args__ = (UniqueConstraint("schedule_id", "source_type", "source_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    schedule_id: Mapped[str] = mapped_column(ForeignKey("revenue_schedules.id"), index=True)
    source_type: Mapped[str] = mapped_column(String(20))
    source_id: Mapped[str] = mapped_column(String(40))
    amount: Mapped[int] = mapped_column(BigInteger)
    effective_on: Mapped[date] = mapped_column(Date)
    # The first month re-planned: the effective month, or the first not recognized yet.
    replanned_from: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RevenueEntryRow(Base):
    __tablename__ = "revenue_entries"
    __table_args__ = (
        # A run's pick-up: the untaken entries of a legal entity and currency, by month.
        Index("ix_revenue_entries_pickup", "legal_entity_id", "currency", "run_id", "period"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    schedule_id: Mapped[str] = mapped_column(ForeignKey("revenue_schedules.id"), index=True)
    adjustment_id: Mapped[str | None] = mapped_column(ForeignKey("revenue_adjustments.id"))
    legal_entity_id: Mapped[str] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3))
    deferred_account: Mapped[str] = mapped_column(String(20))
    revenue_account: Mapped[str] = mapped_column(String(20))
    kind: Mapped[EntryKind] = mapped_column(String(12))
    period: Mapped[date] = mapped_column(Date)  # the first day of its month
    amount: Mapped[int] = mapped_column(BigInteger)
    run_id: Mapped[str | None] = mapped_column(ForeignKey("revenue_recognition_runs.id"))


class RecognitionRunRow(VersionedMixin, BackendRefsMixin, Base):
    """A month's recognition for one legal entity and currency: one balanced ERP journal."""

    __tablename__ = "revenue_recognition_runs"
    __table_args__ = (UniqueConstraint("legal_entity_id", "currency", "period_start", "attempt"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    legal_entity_id: Mapped[str] = mapped_column(ForeignKey("legal_entities.id"))
    currency: Mapped[str] = mapped_column(String(3))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    # 1, then one more each time the period is run again after a reversal.
    attempt: Mapped[int] = mapped_column(Integer)
    status: Mapped[RecognitionRunStatus] = mapped_column(String(20))
    deferred_total: Mapped[int] = mapped_column(BigInteger)
    recognized_total: Mapped[int] = mapped_column(BigInteger)
    entry_count: Mapped[int] = mapped_column(Integer)
    journal_document_number: Mapped[str | None] = mapped_column(String(20))
    posting_date: Mapped[date | None] = mapped_column(Date)
    posted_at: Mapped[datetime | None]
    reversal_document_number: Mapped[str | None] = mapped_column(String(20))
    reversal_posting_date: Mapped[date | None] = mapped_column(Date)
    reversal_reason: Mapped[str | None] = mapped_column(String(500))
    reversed_at: Mapped[datetime | None]


class RecognitionRunLineRow(Base):
    """A run's totals per account pair: what it deferred and what it recognized."""

    __tablename__ = "revenue_recognition_run_lines"

    run_id: Mapped[str] = mapped_column(ForeignKey("revenue_recognition_runs.id"), primary_key=True)
    deferred_account: Mapped[str] = mapped_column(String(20), primary_key=True)
    revenue_account: Mapped[str] = mapped_column(String(20), primary_key=True)
    deferred: Mapped[int] = mapped_column(BigInteger)
    recognized: Mapped[int] = mapped_column(BigInteger)
