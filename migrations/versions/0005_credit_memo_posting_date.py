"""credit memos keep the ERP posting date they were issued with, for reconciliation;
invoices are found by their subscription

Memos posted before this revision have no posting date recorded (it was only sent to
the ERP), so reconciliation does not count them on the gateway's side.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("credit_memos") as batch:
        batch.add_column(sa.Column("posting_date", sa.Date(), nullable=True))
    op.create_index(
        op.f("ix_invoices_subscription_id"), "invoices", ["subscription_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_invoices_subscription_id"), table_name="invoices")
    with op.batch_alter_table("credit_memos") as batch:
        batch.drop_column("posting_date")
