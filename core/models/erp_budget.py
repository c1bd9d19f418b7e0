"""The shared ERP budget when no Redis is configured: each connection's state and grants.

A grant is one request admitted to an ERP connection: until released or its lease ends
(`held_until_ms`) it counts in the connection's concurrency, and its `cost` operations
count in the sliding window from the latest moment the request can have reached the ERP
until a window after it: the lease's end while it is in flight, its answer's time once
released (`granted_at_ms` is re-stamped with it, `held_until_ms` cleared). Times are
wall-clock milliseconds.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base


class ErpBudgetStateRow(Base):
    """One row per ERP connection: the lock acquires take, the scale and the pause."""

    __tablename__ = "erp_budget_states"

    connection: Mapped[str] = mapped_column(String(80), primary_key=True)
    scale: Mapped[int] = mapped_column(Integer)
    paused_until_ms: Mapped[int] = mapped_column(BigInteger)


class ErpBudgetGrantRow(Base):
    __tablename__ = "erp_budget_grants"
    __table_args__ = (Index("ix_erp_budget_grants_connection", "connection", "granted_at_ms"),)

    token: Mapped[str] = mapped_column(String(40), primary_key=True)
    connection: Mapped[str] = mapped_column(String(80))
    granted_at_ms: Mapped[int] = mapped_column(BigInteger)
    cost: Mapped[int] = mapped_column(Integer)
    held_until_ms: Mapped[int | None] = mapped_column(BigInteger)
