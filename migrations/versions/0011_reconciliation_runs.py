"""reconciliation runs: each run's report and differences, and the staging table its
three sides are compared in

Revision ID: 0011
Revises: 0006
Create Date: 2026-12-06 04:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reconciliation_runs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("legal_entity_id", sa.String(length=40), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("clean", sa.Boolean(), nullable=True),
        sa.Column("difference_count", sa.Integer(), nullable=False),
        sa.Column("totals", sa.JSON(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["legal_entity_id"],
            ["legal_entities.id"],
            name=op.f("fk_reconciliation_runs_legal_entity_id_legal_entities"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_runs")),
    )
    op.create_index(
        "ix_reconciliation_runs_entity_period",
        "reconciliation_runs",
        ["legal_entity_id", "period", "started_at"],
        unique=False,
    )
    op.create_table(
        "reconciliation_differences",
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("document_type", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("cause", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("gateway_id", sa.String(length=255), nullable=True),
        sa.Column("billing_id", sa.String(length=255), nullable=True),
        sa.Column("erp_number", sa.String(length=255), nullable=True),
        sa.Column("gateway_amount", sa.BigInteger(), nullable=True),
        sa.Column("billing_amount", sa.BigInteger(), nullable=True),
        sa.Column("erp_amount", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["reconciliation_runs.id"],
            name=op.f("fk_reconciliation_differences_run_id_reconciliation_runs"),
        ),
        sa.PrimaryKeyConstraint("run_id", "sequence", name=op.f("pk_reconciliation_differences")),
    )
    op.create_table(
        "reconciliation_items",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("side", sa.String(length=10), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("document_type", sa.String(length=20), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("tax", sa.BigInteger(), nullable=True),
        sa.Column("billed", sa.BigInteger(), nullable=True),
        sa.Column("ref", sa.String(length=255), nullable=True),
        sa.Column("number", sa.String(length=255), nullable=True),
        sa.Column("link", sa.String(length=255), nullable=True),
        sa.Column("dated", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_items")),
    )
    op.create_index("ix_reconciliation_items_key", "reconciliation_items", ["run_id", "key"])
    op.create_index(
        "ix_reconciliation_items_link", "reconciliation_items", ["run_id", "side", "link"]
    )


def downgrade() -> None:
    op.drop_index("ix_reconciliation_items_link", table_name="reconciliation_items")
    op.drop_index("ix_reconciliation_items_key", table_name="reconciliation_items")
    op.drop_table("reconciliation_items")
    op.drop_table("reconciliation_differences")
    op.drop_index("ix_reconciliation_runs_entity_period", table_name="reconciliation_runs")
    op.drop_table("reconciliation_runs")
