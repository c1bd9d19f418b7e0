"""posting batches: bulk postings of many invoices, each item with its run and outcome

Revision ID: 0027
Revises: 0025
Create Date: 2026-12-06 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "posting_batches",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=80), nullable=False),
        sa.Column("correlation_id", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_posting_batches")),
    )
    op.create_index(
        "ix_posting_batches_status_lease",
        "posting_batches",
        ["status", "lease_until"],
        unique=False,
    )
    op.create_table(
        "posting_batch_items",
        sa.Column("batch_id", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.String(length=40), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=True),
        sa.Column("error_type", sa.String(length=255), nullable=True),
        sa.Column("error_detail", sa.String(length=1000), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["posting_batches.id"],
            name=op.f("fk_posting_batch_items_batch_id_posting_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
            name=op.f("fk_posting_batch_items_invoice_id_invoices"),
        ),
        sa.PrimaryKeyConstraint("batch_id", "position", name=op.f("pk_posting_batch_items")),
    )
    op.create_index(
        op.f("ix_posting_batch_items_invoice_id"),
        "posting_batch_items",
        ["invoice_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_posting_batch_items_invoice_id"), table_name="posting_batch_items")
    op.drop_table("posting_batch_items")
    op.drop_index("ix_posting_batches_status_lease", table_name="posting_batches")
    op.drop_table("posting_batches")
