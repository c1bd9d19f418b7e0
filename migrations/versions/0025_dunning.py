"""dunning: a grace period per legal entity, and the dunning cases of customers

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06 07:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN = sa.text("status <> 'closed'")


def upgrade() -> None:
    with op.batch_alter_table("legal_entities") as batch:
        batch.add_column(sa.Column("dunning_grace_days", sa.Integer(), nullable=True))
    op.create_table(
        "dunning_cases",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("opened_by_event", sa.String(length=255), nullable=False),
        sa.Column("billing_invoice_ref", sa.String(length=255), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("grace_ends_on", sa.Date(), nullable=False),
        sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_reason", sa.String(length=20), nullable=True),
        sa.Column("closed_by_event", sa.String(length=255), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_dunning_cases_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dunning_cases")),
    )
    op.create_index(
        op.f("ix_dunning_cases_customer_id"), "dunning_cases", ["customer_id"], unique=False
    )
    op.create_index(
        "ix_dunning_cases_status_grace", "dunning_cases", ["status", "grace_ends_on"], unique=False
    )
    op.create_index(
        "uq_dunning_cases_open_customer",
        "dunning_cases",
        ["customer_id"],
        unique=True,
        sqlite_where=_OPEN,
        postgresql_where=_OPEN,
    )


def downgrade() -> None:
    op.drop_index("uq_dunning_cases_open_customer", table_name="dunning_cases")
    op.drop_index("ix_dunning_cases_status_grace", table_name="dunning_cases")
    op.drop_index(op.f("ix_dunning_cases_customer_id"), table_name="dunning_cases")
    op.drop_table("dunning_cases")
    with op.batch_alter_table("legal_entities") as batch:
        batch.drop_column("dunning_grace_days")
