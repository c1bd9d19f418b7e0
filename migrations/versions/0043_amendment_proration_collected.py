"""amendment prorations collected with a renewal: the ERP document each posted (its id and
total, recorded from the amendment's run for those applied before) and the gateway invoice
billing collected the proration with; payment applications: the part of a payment's cash
applied to such an amendment's ERP sales invoice

Revision ID: 0043
Revises: 0042
Create Date: 2026-12-07 01:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0043"
down_revision: str | None = "0042"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("amendment_prorations") as batch:
        batch.add_column(sa.Column("erp_document_id", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("erp_total_including_tax", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("invoice_id", sa.String(length=40), nullable=True))
        batch.create_foreign_key(
            op.f("fk_amendment_prorations_invoice_id_invoices"), "invoices", ["invoice_id"], ["id"]
        )
        batch.create_index(op.f("ix_amendment_prorations_invoice_id"), ["invoice_id"], unique=False)
    _record_documents()
    op.create_table(
        "payment_applications",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=False),
        sa.Column("amendment_id", sa.String(length=40), nullable=False),
        sa.Column("erp_invoice_id", sa.String(length=40), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("erp_ref", sa.String(length=40), nullable=True),
        sa.Column("erp_document_number", sa.String(length=40), nullable=True),
        sa.Column("reversal_document_number", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["amendment_id"],
            ["amendment_prorations.id"],
            name=op.f("fk_payment_applications_amendment_id_amendment_prorations"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payments.id"],
            name=op.f("fk_payment_applications_payment_id_payments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_applications")),
    )
    op.create_index(
        op.f("ix_payment_applications_payment_id"),
        "payment_applications",
        ["payment_id"],
        unique=False,
    )


def _record_documents() -> None:
    """The ERP document of each amendment recorded before, from its run's acknowledgement."""
    prorations = sa.table(
        "amendment_prorations",
        sa.column("id", sa.String),
        sa.column("erp_document_id", sa.String),
        sa.column("erp_total_including_tax", sa.BigInteger),
    )
    runs = sa.table("workflow_runs", sa.column("id", sa.String), sa.column("result", sa.JSON))
    bind = op.get_bind()
    recorded = bind.execute(
        sa.select(runs.c.id, runs.c.result).join(prorations, prorations.c.id == runs.c.id)
    )
    for run_id, result in recorded.all():
        adjustment = (result or {}).get("erp_adjustment")
        if not adjustment:
            continue
        bind.execute(
            prorations.update()
            .where(prorations.c.id == run_id)
            .values(
                erp_document_id=adjustment["document_id"],
                erp_total_including_tax=adjustment["total_including_tax"],
            )
        )


def downgrade() -> None:
    op.drop_index(op.f("ix_payment_applications_payment_id"), table_name="payment_applications")
    op.drop_table("payment_applications")
    with op.batch_alter_table("amendment_prorations") as batch:
        batch.drop_index(op.f("ix_amendment_prorations_invoice_id"))
        batch.drop_constraint(
            op.f("fk_amendment_prorations_invoice_id_invoices"), type_="foreignkey"
        )
        batch.drop_column("invoice_id")
        batch.drop_column("erp_total_including_tax")
        batch.drop_column("erp_document_id")
