"""webhook receipts (replay defence) and the webhook inbox

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_receipts",
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("provider", "event_id", name=op.f("pk_webhook_receipts")),
    )
    op.create_index(
        op.f("ix_webhook_receipts_received_at"), "webhook_receipts", ["received_at"], unique=False
    )
    op.create_table(
        "webhook_inbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("event_type", sa.String(length=60), nullable=False),
        sa.Column("vendor_type", sa.String(length=120), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_inbox")),
        sa.UniqueConstraint(
            "provider", "event_id", name=op.f("uq_webhook_inbox_provider_event_id")
        ),
    )
    op.create_index(
        "ix_webhook_inbox_pending", "webhook_inbox", ["processed_at", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_inbox_pending", table_name="webhook_inbox")
    op.drop_table("webhook_inbox")
    op.drop_index(op.f("ix_webhook_receipts_received_at"), table_name="webhook_receipts")
    op.drop_table("webhook_receipts")
