"""revenue recognition: service periods of invoice lines, rules, schedules, adjustments,
entries and recognition runs

Revision ID: 0031
Revises: 0025
Create Date: 2026-12-06 10:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamps() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    with op.batch_alter_table("invoice_lines") as batch:
        batch.add_column(sa.Column("service_period_start", sa.Date(), nullable=True))
        batch.add_column(sa.Column("service_period_end", sa.Date(), nullable=True))
    op.create_table(
        "revenue_rules",
        sa.Column("product_id", sa.String(length=40), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_revenue_rules_product_id_products")
        ),
        sa.PrimaryKeyConstraint("product_id", name=op.f("pk_revenue_rules")),
    )
    op.create_table(
        "revenue_schedules",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("invoice_id", sa.String(length=40), nullable=False),
        sa.Column("invoice_line_id", sa.String(length=40), nullable=False),
        sa.Column("legal_entity_id", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("product_id", sa.String(length=40), nullable=True),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("service_start", sa.Date(), nullable=False),
        sa.Column("service_end", sa.Date(), nullable=False),
        sa.Column("billed_on", sa.Date(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("deferred_account", sa.String(length=20), nullable=False),
        sa.Column("revenue_account", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_revenue_schedules_invoice_id_invoices")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_line_id"],
            ["invoice_lines.id"],
            name=op.f("fk_revenue_schedules_invoice_line_id_invoice_lines"),
        ),
        sa.ForeignKeyConstraint(
            ["legal_entity_id"],
            ["legal_entities.id"],
            name=op.f("fk_revenue_schedules_legal_entity_id_legal_entities"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revenue_schedules")),
        sa.UniqueConstraint("invoice_line_id", name=op.f("uq_revenue_schedules_invoice_line_id")),
    )
    op.create_index(
        op.f("ix_revenue_schedules_invoice_id"), "revenue_schedules", ["invoice_id"], unique=False
    )
    op.create_index(
        "ix_revenue_schedules_entity",
        "revenue_schedules",
        ["legal_entity_id", "currency"],
        unique=False,
    )
    op.create_table(
        "revenue_adjustments",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("schedule_id", sa.String(length=40), nullable=False),
        sa.Column("source_type", sa.String(length=20), nullable=False),
        sa.Column("source_id", sa.String(length=40), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("replanned_from", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["revenue_schedules.id"],
            name=op.f("fk_revenue_adjustments_schedule_id_revenue_schedules"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revenue_adjustments")),
        sa.UniqueConstraint(
            "schedule_id",
            "source_type",
            "source_id",
            name=op.f("uq_revenue_adjustments_schedule_id_source_type_source_id"),
        ),
    )
    op.create_index(
        op.f("ix_revenue_adjustments_schedule_id"),
        "revenue_adjustments",
        ["schedule_id"],
        unique=False,
    )
    op.create_table(
        "revenue_recognition_runs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("legal_entity_id", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("deferred_total", sa.BigInteger(), nullable=False),
        sa.Column("recognized_total", sa.BigInteger(), nullable=False),
        sa.Column("entry_count", sa.Integer(), nullable=False),
        sa.Column("journal_document_number", sa.String(length=20), nullable=True),
        sa.Column("posting_date", sa.Date(), nullable=True),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reversal_document_number", sa.String(length=20), nullable=True),
        sa.Column("reversal_posting_date", sa.Date(), nullable=True),
        sa.Column("reversal_reason", sa.String(length=500), nullable=True),
        sa.Column("reversed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("billing_ref", sa.String(length=255), nullable=True),
        sa.Column("erp_ref", sa.String(length=255), nullable=True),
        sa.Column("crm_ref", sa.String(length=255), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["legal_entity_id"],
            ["legal_entities.id"],
            name=op.f("fk_revenue_recognition_runs_legal_entity_id_legal_entities"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revenue_recognition_runs")),
        sa.UniqueConstraint(
            "legal_entity_id",
            "currency",
            "period_start",
            "attempt",
            name=op.f("uq_revenue_recognition_runs_legal_entity_id_currency_period_start_attempt"),
        ),
    )
    op.create_table(
        "revenue_entries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("schedule_id", sa.String(length=40), nullable=False),
        sa.Column("adjustment_id", sa.String(length=40), nullable=True),
        sa.Column("legal_entity_id", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("deferred_account", sa.String(length=20), nullable=False),
        sa.Column("revenue_account", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["revenue_schedules.id"],
            name=op.f("fk_revenue_entries_schedule_id_revenue_schedules"),
        ),
        sa.ForeignKeyConstraint(
            ["adjustment_id"],
            ["revenue_adjustments.id"],
            name=op.f("fk_revenue_entries_adjustment_id_revenue_adjustments"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["revenue_recognition_runs.id"],
            name=op.f("fk_revenue_entries_run_id_revenue_recognition_runs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revenue_entries")),
    )
    op.create_index(
        op.f("ix_revenue_entries_schedule_id"), "revenue_entries", ["schedule_id"], unique=False
    )
    op.create_index(
        "ix_revenue_entries_pickup",
        "revenue_entries",
        ["legal_entity_id", "currency", "run_id", "period"],
        unique=False,
    )
    op.create_table(
        "revenue_recognition_run_lines",
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("deferred_account", sa.String(length=20), nullable=False),
        sa.Column("revenue_account", sa.String(length=20), nullable=False),
        sa.Column("deferred", sa.BigInteger(), nullable=False),
        sa.Column("recognized", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["revenue_recognition_runs.id"],
            name=op.f("fk_revenue_recognition_run_lines_run_id_revenue_recognition_runs"),
        ),
        sa.PrimaryKeyConstraint(
            "run_id",
            "deferred_account",
            "revenue_account",
            name=op.f("pk_revenue_recognition_run_lines"),
        ),
    )


def downgrade() -> None:
    op.drop_table("revenue_recognition_run_lines")
    op.drop_index("ix_revenue_entries_pickup", table_name="revenue_entries")
    op.drop_index(op.f("ix_revenue_entries_schedule_id"), table_name="revenue_entries")
    op.drop_table("revenue_entries")
    op.drop_table("revenue_recognition_runs")
    op.drop_index(op.f("ix_revenue_adjustments_schedule_id"), table_name="revenue_adjustments")
    op.drop_table("revenue_adjustments")
    op.drop_index("ix_revenue_schedules_entity", table_name="revenue_schedules")
    op.drop_index(op.f("ix_revenue_schedules_invoice_id"), table_name="revenue_schedules")
    op.drop_table("revenue_schedules")
    op.drop_table("revenue_rules")
    with op.batch_alter_table("invoice_lines") as batch:
        batch.drop_column("service_period_end")
        batch.drop_column("service_period_start")
