"""usage reports: what was reported to billing of each subscription item's usage per period,
pass by pass, and the pass that counted each usage event

Revision ID: 0028
Revises: 0025
Create Date: 2026-12-06 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UNREPORTED = sa.text("report_pass_id IS NULL")


def upgrade() -> None:
    op.create_table(
        "usage_reports",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("subscription_id", sa.String(length=40), nullable=False),
        sa.Column("price_id", sa.String(length=40), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("billing_item_ref", sa.String(length=255), nullable=True),
        sa.Column("reported_micros", sa.BigInteger(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("invoice_ref", sa.String(length=255), nullable=True),
        sa.Column("invoiced_quantity", sa.BigInteger(), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_reports")),
        sa.UniqueConstraint(
            "subscription_id",
            "price_id",
            "period_start",
            name=op.f("uq_usage_reports_subscription_id_price_id_period_start"),
        ),
    )
    op.create_table(
        "usage_report_passes",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("report_id", ROW_ID, nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("own_micros", sa.BigInteger(), nullable=False),
        sa.Column("carried_micros", sa.BigInteger(), nullable=False),
        sa.Column("total_micros", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["usage_reports.id"],
            name=op.f("fk_usage_report_passes_report_id_usage_reports"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_report_passes")),
    )
    with op.batch_alter_table("usage_report_passes") as batch_op:
        batch_op.create_index("ix_usage_report_passes_report", ["report_id", "id"], unique=False)
    # `reported_at` and `invoice_id` were placeholders never written: the pass says both.
    with op.batch_alter_table("usage_events") as batch_op:
        batch_op.drop_column("invoice_id")
        batch_op.drop_column("reported_at")
        batch_op.add_column(sa.Column("report_pass_id", sa.BigInteger(), nullable=True))
        batch_op.create_index(
            "ix_usage_events_unreported",
            ["subscription_id", "price_id", "period_start"],
            unique=False,
            postgresql_where=UNREPORTED,
            sqlite_where=UNREPORTED,
        )


def downgrade() -> None:
    with op.batch_alter_table("usage_events") as batch_op:
        batch_op.drop_index("ix_usage_events_unreported")
        batch_op.drop_column("report_pass_id")
        batch_op.add_column(sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("invoice_id", sa.String(length=40), nullable=True))
    op.drop_table("usage_report_passes")
    op.drop_table("usage_reports")
