"""usage events: metered prices with their meter rules and caps, and the append-only
usage_events table, unique per client and event id

Revision ID: 0024
Revises: 0022
Create Date: 2026-12-06 07:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("prices") as batch_op:
        batch_op.add_column(sa.Column("meter", sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column("aggregation", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("unique_property", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("min_quantity_micros", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("max_quantity_micros", sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column("integer_only", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("cap_micros", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("cap_policy", sa.String(length=10), nullable=True))
    op.create_table(
        "usage_events",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("subscription_id", sa.String(length=40), nullable=False),
        sa.Column("price_id", sa.String(length=40), nullable=False),
        sa.Column("meter", sa.String(length=60), nullable=False),
        sa.Column("quantity_micros", sa.BigInteger(), nullable=False),
        sa.Column("distinct_value", sa.String(length=200), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("properties", sa.JSON(), nullable=True),
        sa.Column("body_hash", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("invoice_id", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_events")),
        sa.UniqueConstraint(
            "client_id", "event_id", name=op.f("uq_usage_events_client_id_event_id")
        ),
    )
    with op.batch_alter_table("usage_events") as batch_op:
        batch_op.create_index(
            "ix_usage_events_aggregation",
            ["subscription_id", "price_id", "period_start", "meter"],
            unique=False,
        )
        batch_op.create_index("ix_usage_events_period_end", ["period_end"], unique=False)


def downgrade() -> None:
    op.drop_table("usage_events")
    with op.batch_alter_table("prices") as batch_op:
        for column in (
            "cap_policy",
            "cap_micros",
            "integer_only",
            "max_quantity_micros",
            "min_quantity_micros",
            "unique_property",
            "aggregation",
            "meter",
        ):
            batch_op.drop_column(column)
