"""payment reversals: a payment's reversing entry, commission claw-backs that name the
line they reverse, and a statement's claw-back total

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 07:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EARNED = sa.text("reverses_line_id IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("reversal_document_number", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("reversal_posting_date", sa.Date(), nullable=True))
        batch.add_column(sa.Column("reversed_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("settlements") as batch:
        batch.add_column(
            sa.Column("clawback_total", sa.BigInteger(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("commission_lines") as batch:
        batch.add_column(sa.Column("reverses_line_id", sa.String(length=40), nullable=True))
        batch.create_foreign_key(
            op.f("fk_commission_lines_reverses_line_id_commission_lines"),
            "commission_lines",
            ["reverses_line_id"],
            ["id"],
        )
        batch.create_unique_constraint(
            op.f("uq_commission_lines_reverses_line_id"), ["reverses_line_id"]
        )
        batch.drop_constraint("uq_commission_lines_payment_id_invoice_line_id", type_="unique")
    op.create_index(
        "uq_commission_lines_earned",
        "commission_lines",
        ["payment_id", "invoice_line_id"],
        unique=True,
        sqlite_where=_EARNED,
        postgresql_where=_EARNED,
    )


def downgrade() -> None:
    op.drop_index("uq_commission_lines_earned", table_name="commission_lines")
    with op.batch_alter_table("commission_lines") as batch:
        batch.create_unique_constraint(
            op.f("uq_commission_lines_payment_id_invoice_line_id"),
            ["payment_id", "invoice_line_id"],
        )
        batch.drop_constraint(op.f("uq_commission_lines_reverses_line_id"), type_="unique")
        batch.drop_constraint(
            op.f("fk_commission_lines_reverses_line_id_commission_lines"), type_="foreignkey"
        )
        batch.drop_column("reverses_line_id")
    with op.batch_alter_table("settlements") as batch:
        batch.drop_column("clawback_total")
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("reversed_at")
        batch.drop_column("reversal_posting_date")
        batch.drop_column("reversal_document_number")
