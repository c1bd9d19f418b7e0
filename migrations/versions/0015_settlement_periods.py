"""settlement periods per legal entity (later commissions are prior-period adjustments),
a statement's adjustment total, and its reversal

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 04:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "settlement_periods",
        sa.Column("legal_entity_id", sa.String(length=40), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("settled_by", sa.String(length=100), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["legal_entity_id"],
            ["legal_entities.id"],
            name=op.f("fk_settlement_periods_legal_entity_id_legal_entities"),
        ),
        sa.PrimaryKeyConstraint(
            "legal_entity_id", "period_start", name=op.f("pk_settlement_periods")
        ),
    )
    with op.batch_alter_table("settlements") as batch:
        batch.add_column(
            sa.Column("adjustment_total", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch.add_column(sa.Column("reversal_document_number", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("reversed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("settlements") as batch:
        batch.drop_column("reversed_at")
        batch.drop_column("reversal_document_number")
        batch.drop_column("adjustment_total")
    op.drop_table("settlement_periods")
