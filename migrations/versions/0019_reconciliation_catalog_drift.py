"""catalog drift in reconciliation: a run's count of drifted products and prices, and
each catalog difference's value on every side

Revision ID: 0019
Revises: 0017
Create Date: 2026-12-06 07:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VALUES = ("gateway_value", "billing_value", "erp_value")


def upgrade() -> None:
    with op.batch_alter_table("reconciliation_runs") as batch:
        batch.add_column(
            sa.Column("catalog_difference_count", sa.Integer(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("reconciliation_differences") as batch:
        for name in VALUES:
            batch.add_column(sa.Column(name, sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reconciliation_differences") as batch:
        for name in reversed(VALUES):
            batch.drop_column(name)
    with op.batch_alter_table("reconciliation_runs") as batch:
        batch.drop_column("catalog_difference_count")
