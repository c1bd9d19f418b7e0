"""credit memos: how a credit on a paid invoice is settled (refund or customer balance)

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-06 11:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("credit_memos") as batch:
        batch.add_column(sa.Column("settlement", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("credit_memos") as batch:
        batch.drop_column("settlement")
