"""correcting credit memos: a memo's kind, the tax it credits, its request key, and its
lines with their lineage to the corrected invoice's lines

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 06:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("credit_memos") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(length=20), server_default="support", nullable=False)
        )
        batch.add_column(sa.Column("tax_amount", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("request_key", sa.String(length=200), nullable=True))
        batch.create_unique_constraint(op.f("uq_credit_memos_request_key"), ["request_key"])
    op.create_table(
        "credit_memo_lines",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("credit_memo_id", sa.String(length=40), nullable=False),
        sa.Column("invoice_line_id", sa.String(length=40), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("tax_amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["credit_memo_id"],
            ["credit_memos.id"],
            name=op.f("fk_credit_memo_lines_credit_memo_id_credit_memos"),
        ),
        sa.ForeignKeyConstraint(
            ["invoice_line_id"],
            ["invoice_lines.id"],
            name=op.f("fk_credit_memo_lines_invoice_line_id_invoice_lines"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_memo_lines")),
        sa.UniqueConstraint(
            "credit_memo_id", "sequence", name=op.f("uq_credit_memo_lines_credit_memo_id_sequence")
        ),
    )
    op.create_index(
        op.f("ix_credit_memo_lines_invoice_line_id"),
        "credit_memo_lines",
        ["invoice_line_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_credit_memo_lines_invoice_line_id"), table_name="credit_memo_lines")
    op.drop_table("credit_memo_lines")
    with op.batch_alter_table("credit_memos") as batch:
        batch.drop_constraint(op.f("uq_credit_memos_request_key"), type_="unique")
        batch.drop_column("request_key")
        batch.drop_column("tax_amount")
        batch.drop_column("kind")
