"""credit memo approval and backend documents, payments, commission lines with lineage,
settlement statements unique per partner, legal entity, currency and period

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CREDIT_MEMO_COLUMNS = (
    "case_id",
    "support_ref",
    "note",
    "entitlement_product_id",
    "entitlement_tier",
    "approval_required",
    "requested_by",
    "approved_by",
    "approved_at",
    "erp_document_number",
    "erp_total_including_tax",
)


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("invoice_id", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("legal_entity_id", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("source_ref", sa.String(length=255), nullable=True),
        sa.Column("reference", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("posting_date", sa.Date(), nullable=True),
        sa.Column("erp_document_number", sa.String(length=40), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("billing_ref", sa.String(length=255), nullable=True),
        sa.Column("erp_ref", sa.String(length=255), nullable=True),
        sa.Column("crm_ref", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_payments_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_payments_invoice_id_invoices")
        ),
        sa.ForeignKeyConstraint(
            ["legal_entity_id"],
            ["legal_entities.id"],
            name=op.f("fk_payments_legal_entity_id_legal_entities"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("source", "source_ref", name=op.f("uq_payments_source_source_ref")),
    )
    op.create_index(op.f("ix_payments_invoice_id"), "payments", ["invoice_id"], unique=False)
    op.create_table(
        "commission_lines",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=False),
        sa.Column("invoice_id", sa.String(length=40), nullable=False),
        sa.Column("invoice_line_id", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("partner_id", sa.String(length=40), nullable=False),
        sa.Column("legal_entity_id", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("product_id", sa.String(length=40), nullable=False),
        sa.Column("product_tier", sa.String(length=40), nullable=False),
        sa.Column("eligible", sa.Boolean(), nullable=False),
        sa.Column("eligibility_reason", sa.String(length=60), nullable=False),
        sa.Column("deal_registration_id", sa.String(length=40), nullable=True),
        sa.Column("plan_code", sa.String(length=50), nullable=False),
        sa.Column("rate_card_version", sa.Integer(), nullable=True),
        sa.Column("rate_effective_from", sa.Date(), nullable=True),
        sa.Column("rate_bps", sa.Integer(), nullable=False),
        sa.Column("base_amount", sa.BigInteger(), nullable=False),
        sa.Column("commission_amount", sa.BigInteger(), nullable=False),
        sa.Column("settlement_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_commission_lines_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_commission_lines_invoice_id_invoices")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_line_id"],
            ["invoice_lines.id"],
            name=op.f("fk_commission_lines_invoice_line_id_invoice_lines"),
        ),
        sa.ForeignKeyConstraint(
            ["legal_entity_id"],
            ["legal_entities.id"],
            name=op.f("fk_commission_lines_legal_entity_id_legal_entities"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_commission_lines_partner_id_partners")
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_commission_lines_payment_id_payments")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_commission_lines_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["settlement_id"],
            ["settlements.id"],
            name=op.f("fk_commission_lines_settlement_id_settlements"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commission_lines")),
        sa.UniqueConstraint(
            "payment_id",
            "invoice_line_id",
            name=op.f("uq_commission_lines_payment_id_invoice_line_id"),
        ),
    )
    op.create_index(
        op.f("ix_commission_lines_invoice_id"), "commission_lines", ["invoice_id"], unique=False
    )
    op.create_index(
        "ix_commission_lines_unsettled",
        "commission_lines",
        ["settlement_id", "partner_id", "legal_entity_id", "currency", "paid_on"],
        unique=False,
    )
    op.add_column("credit_memos", sa.Column("case_id", sa.String(length=40), nullable=True))
    op.add_column("credit_memos", sa.Column("support_ref", sa.String(length=40), nullable=True))
    op.add_column("credit_memos", sa.Column("note", sa.String(length=500), nullable=True))
    op.add_column(
        "credit_memos", sa.Column("entitlement_product_id", sa.String(length=40), nullable=True)
    )
    op.add_column(
        "credit_memos", sa.Column("entitlement_tier", sa.String(length=20), nullable=True)
    )
    op.add_column("credit_memos", sa.Column("approval_required", sa.Boolean(), nullable=True))
    op.add_column("credit_memos", sa.Column("requested_by", sa.String(length=80), nullable=True))
    op.add_column("credit_memos", sa.Column("approved_by", sa.String(length=80), nullable=True))
    op.add_column(
        "credit_memos", sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "credit_memos", sa.Column("erp_document_number", sa.String(length=40), nullable=True)
    )
    op.add_column(
        "credit_memos", sa.Column("erp_total_including_tax", sa.BigInteger(), nullable=True)
    )
    op.add_column("settlements", sa.Column("line_count", sa.Integer(), nullable=True))
    op.add_column(
        "settlements", sa.Column("journal_document_number", sa.String(length=20), nullable=True)
    )
    op.add_column("settlements", sa.Column("posting_date", sa.Date(), nullable=True))
    op.add_column("settlements", sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "uq_settlements_statement",
        "settlements",
        ["partner_id", "legal_entity_id", "currency", "period_start"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("uq_settlements_statement", table_name="settlements")
    with op.batch_alter_table("settlements") as batch:
        for column in ("posted_at", "posting_date", "journal_document_number", "line_count"):
            batch.drop_column(column)
    with op.batch_alter_table("credit_memos") as batch:
        for column in CREDIT_MEMO_COLUMNS:
            batch.drop_column(column)
    op.drop_index("ix_commission_lines_unsettled", table_name="commission_lines")
    op.drop_index(op.f("ix_commission_lines_invoice_id"), table_name="commission_lines")
    op.drop_table("commission_lines")
    op.drop_index(op.f("ix_payments_invoice_id"), table_name="payments")
    op.drop_table("payments")
