"""keyset indexes for the partner portal: each list ordered by an index that starts with
the partner (or customer), so a page costs the same at any depth

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 09:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, new index, its columns, the single-column index it supersedes or None)
INDEXES = (
    ("customers", "ix_customers_partner_keyset", ["partner_id", "id"], "ix_customers_partner_id"),
    (
        "subscriptions",
        "ix_subscriptions_partner_keyset",
        ["partner_id", "id"],
        "ix_subscriptions_partner_id",
    ),
    ("invoices", "ix_invoices_customer_keyset", ["customer_id", "id"], "ix_invoices_customer_id"),
    ("commission_lines", "ix_commission_lines_partner_keyset", ["partner_id", "id"], None),
    (
        "settlements",
        "ix_settlements_partner_period",
        ["partner_id", "period_start"],
        "ix_settlements_partner_id",
    ),
)


def upgrade() -> None:
    for table, name, columns, superseded in INDEXES:
        op.create_index(name, table, columns, unique=False)
        if superseded is not None:
            op.drop_index(superseded, table_name=table)


def downgrade() -> None:
    for table, name, columns, superseded in reversed(INDEXES):
        if superseded is not None:
            op.create_index(superseded, table, columns[:1], unique=False)
        op.drop_index(name, table_name=table)
