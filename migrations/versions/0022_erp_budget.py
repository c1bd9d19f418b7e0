"""the shared ERP budget in the database (when no Redis is configured)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 07:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "erp_budget_states",
        sa.Column("connection", sa.String(length=80), nullable=False),
        sa.Column("scale", sa.Integer(), nullable=False),
        sa.Column("paused_until_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("connection", name=op.f("pk_erp_budget_states")),
    )
    op.create_table(
        "erp_budget_grants",
        sa.Column("token", sa.String(length=40), nullable=False),
        sa.Column("connection", sa.String(length=80), nullable=False),
        sa.Column("granted_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("cost", sa.Integer(), nullable=False),
        sa.Column("held_until_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_erp_budget_grants")),
    )
    op.create_index(
        "ix_erp_budget_grants_connection",
        "erp_budget_grants",
        ["connection", "granted_at_ms"],
    )


def downgrade() -> None:
    op.drop_index("ix_erp_budget_grants_connection", table_name="erp_budget_grants")
    op.drop_table("erp_budget_grants")
    op.drop_table("erp_budget_states")
