"""amendment prorations: the deferred revenue account an amendment's ERP adjustment was
booked to (none for the amendments applied before: booked to revenue, the recognition
journal moves them)

Revision ID: 0042
Revises: 0041
Create Date: 2026-12-06 23:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0042"
down_revision: str | None = "0041"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("amendment_prorations") as batch:
        batch.add_column(sa.Column("deferred_account", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("amendment_prorations") as batch:
        batch.drop_column("deferred_account")
