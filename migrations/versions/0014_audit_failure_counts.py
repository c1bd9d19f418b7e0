"""audit rows carry a count: failed authentications are one row per source and minute

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 04:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# A plain ALTER TABLE on both databases: a batch (copy-and-move) on SQLite would drop
# the triggers that keep the trail append-only.


def upgrade() -> None:
    op.add_column(
        "audit_events", sa.Column("count", sa.Integer(), nullable=False, server_default="1")
    )


def downgrade() -> None:
    op.drop_column("audit_events", "count")
