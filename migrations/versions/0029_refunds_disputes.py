"""refunds and disputes of paid invoices; commission claw-backs by cause and held lines

Revision ID: 0029
Revises: 0025
Create Date: 2026-12-06 10:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REVERSAL = sa.text("cause_id IS NULL")
_CAUSED = sa.text("cause_id IS NOT NULL")


def _money_back_columns() -> list[sa.Column[object]]:
    """The columns refunds and disputes share: what was paid back, and on which payment."""
    return [
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=False),
        sa.Column("invoice_id", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("legal_entity_id", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("source_ref", sa.String(length=255), nullable=False),
        sa.Column("charge_ref", sa.String(length=255), nullable=False),
        sa.Column("reason", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def _money_back_constraints(table: str) -> list[sa.Constraint]:
    return [
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f(f"fk_{table}_payment_id_payments")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f(f"fk_{table}_invoice_id_invoices")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f(f"fk_{table}_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["legal_entity_id"],
            ["legal_entities.id"],
            name=op.f(f"fk_{table}_legal_entity_id_legal_entities"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint("source_ref", name=op.f(f"uq_{table}_source_ref")),
    ]


def upgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("charge_ref", sa.String(length=255), nullable=True))
        batch.create_index(op.f("ix_payments_charge_ref"), ["charge_ref"], unique=False)
    with op.batch_alter_table("commission_lines") as batch:
        batch.drop_constraint(op.f("uq_commission_lines_reverses_line_id"), type_="unique")
        batch.add_column(sa.Column("cause_id", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("held_by", sa.String(length=40), nullable=True))
        batch.create_index(op.f("ix_commission_lines_held_by"), ["held_by"], unique=False)
    op.create_index(
        "uq_commission_lines_reversal",
        "commission_lines",
        ["reverses_line_id"],
        unique=True,
        sqlite_where=_REVERSAL,
        postgresql_where=_REVERSAL,
    )
    op.create_index(
        "uq_commission_lines_cause",
        "commission_lines",
        ["reverses_line_id", "cause_id"],
        unique=True,
        sqlite_where=_CAUSED,
        postgresql_where=_CAUSED,
    )
    op.create_table(
        "refunds",
        *_money_back_columns(),
        sa.Column("refunded_on", sa.Date(), nullable=False),
        sa.Column("policy", sa.String(length=30), nullable=False),
        sa.Column("credit_memo_id", sa.String(length=40), nullable=True),
        sa.Column("erp_refund_document_number", sa.String(length=40), nullable=True),
        sa.Column("booked_at", sa.DateTime(timezone=True), nullable=True),
        *_money_back_constraints("refunds"),
        sa.ForeignKeyConstraint(
            ["credit_memo_id"],
            ["credit_memos.id"],
            name=op.f("fk_refunds_credit_memo_id_credit_memos"),
        ),
    )
    op.create_table(
        "disputes",
        *_money_back_columns(),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("fee", sa.BigInteger(), nullable=True),
        sa.Column("erp_document_number", sa.String(length=40), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        *_money_back_constraints("disputes"),
    )
    for table in ("refunds", "disputes"):
        for column in ("payment_id", "invoice_id"):
            op.create_index(op.f(f"ix_{table}_{column}"), table, [column], unique=False)


def downgrade() -> None:
    for table in ("disputes", "refunds"):
        for column in ("invoice_id", "payment_id"):
            op.drop_index(op.f(f"ix_{table}_{column}"), table_name=table)
        op.drop_table(table)
    op.drop_index("uq_commission_lines_cause", table_name="commission_lines")
    op.drop_index("uq_commission_lines_reversal", table_name="commission_lines")
    with op.batch_alter_table("commission_lines") as batch:
        batch.drop_index(op.f("ix_commission_lines_held_by"))
        batch.drop_column("held_by")
        batch.drop_column("cause_id")
        batch.create_unique_constraint(
            op.f("uq_commission_lines_reverses_line_id"), ["reverses_line_id"]
        )
    with op.batch_alter_table("payments") as batch:
        batch.drop_index(op.f("ix_payments_charge_ref"))
        batch.drop_column("charge_ref")
