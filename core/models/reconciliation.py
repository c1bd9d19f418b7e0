"""Reconciliation runs: each run's report, its differences, and the documents it staged.

A run reads every side (billing, gateway, ERP) page by page into
`reconciliation_items`, then compares them key by key in the database's order, so no
side is ever held in memory; the staged documents are deleted when the run ends.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, utcnow


class ReconciliationRunRow(Base):
    __tablename__ = "reconciliation_runs"
    __table_args__ = (
        Index("ix_reconciliation_runs_entity_period", "legal_entity_id", "period", "started_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    legal_entity_id: Mapped[str] = mapped_column(ForeignKey("legal_entities.id"))
    period: Mapped[str] = mapped_column(String(7))
    trigger: Mapped[str] = mapped_column(String(20))  # api, cli or schedule
    status: Mapped[str] = mapped_column(String(20))  # running, completed or failed
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    clean: Mapped[bool | None]
    difference_count: Mapped[int] = mapped_column(Integer, default=0)
    # Products and prices that drifted; `difference_count` counts documents only.
    catalog_difference_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    totals: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(String(500))


class ReconciliationDifferenceRow(Base):
    __tablename__ = "reconciliation_differences"

    run_id: Mapped[str] = mapped_column(ForeignKey("reconciliation_runs.id"), primary_key=True)
    sequence: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_type: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(30))
    cause: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(255))
    currency: Mapped[str] = mapped_column(String(3))
    gateway_id: Mapped[str | None] = mapped_column(String(255))
    billing_id: Mapped[str | None] = mapped_column(String(255))
    erp_number: Mapped[str | None] = mapped_column(String(255))
    gateway_amount: Mapped[int | None] = mapped_column(BigInteger)
    billing_amount: Mapped[int | None] = mapped_column(BigInteger)
    erp_amount: Mapped[int | None] = mapped_column(BigInteger)
    # A catalog difference's values on each side (a name, a status, an interval).
    gateway_value: Mapped[str | None] = mapped_column(String(255))
    billing_value: Mapped[str | None] = mapped_column(String(255))
    erp_value: Mapped[str | None] = mapped_column(String(255))


class ReconciliationItemRow(Base):
    """One document as one side holds it, staged for the comparison of one run."""

    __tablename__ = "reconciliation_items"
    __table_args__ = (
        Index("ix_reconciliation_items_key", "run_id", "key"),
        Index("ix_reconciliation_items_link", "run_id", "side", "link"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(40))
    side: Mapped[str] = mapped_column(String(10))  # billing, gateway or erp
    key: Mapped[str] = mapped_column(String(255))
    document_type: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(BigInteger)
    tax: Mapped[int | None] = mapped_column(BigInteger)
    # What billing should show for a gateway document (a credit memo's net credit).
    billed: Mapped[int | None] = mapped_column(BigInteger)
    # The side's own id of the document; `number`, its ERP document number as known.
    ref: Mapped[str | None] = mapped_column(String(255))
    number: Mapped[str | None] = mapped_column(String(255))
    # The billing document: a gateway document's `billing_ref`, a billing document's id.
    link: Mapped[str | None] = mapped_column(String(255))
    dated: Mapped[date | None] = mapped_column(Date)
