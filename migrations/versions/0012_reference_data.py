"""reference data for production: each legal entity names its ERP connection, periods
keep why they were closed or reopened, and tax codes map to each entity's ERP tax groups

Existing legal entities are on the `default` ERP connection (`LEDGERGATE_ERP`).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 04:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("legal_entities") as batch:
        batch.add_column(
            sa.Column(
                "erp_connection", sa.String(length=40), nullable=False, server_default="default"
            )
        )
    with op.batch_alter_table("accounting_periods") as batch:
        batch.add_column(sa.Column("status_reason", sa.String(length=500), nullable=True))
    op.create_table(
        "tax_code_mappings",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("legal_entity_id", sa.String(length=40), nullable=False),
        sa.Column("tax_code", sa.String(length=20), nullable=False),
        sa.Column("erp_tax_code", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["legal_entity_id"],
            ["legal_entities.id"],
            name=op.f("fk_tax_code_mappings_legal_entity_id_legal_entities"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tax_code_mappings")),
        sa.UniqueConstraint(
            "legal_entity_id",
            "tax_code",
            name=op.f("uq_tax_code_mappings_legal_entity_id_tax_code"),
        ),
    )


def downgrade() -> None:
    op.drop_table("tax_code_mappings")
    with op.batch_alter_table("accounting_periods") as batch:
        batch.drop_column("status_reason")
    with op.batch_alter_table("legal_entities") as batch:
        batch.drop_column("erp_connection")
