"""workflow runs carry their subject's legal entity (the queue filters on it); duplicates
suppressed are counted per day and source

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-06 13:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0034"
down_revision: str | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

QUEUE_STATUSES = sa.text("status IN ('pending_retry', 'failed', 'running')")
# The subjects that name their legal entity, and those that name it through their customer.
WITH_ENTITY = (
    "invoices",
    "credit_memos",
    "payments",
    "refunds",
    "disputes",
    "settlements",
    "customers",
    "sales_orders",
    "revenue_recognition_runs",
)
WITH_CUSTOMER = ("subscriptions", "dunning_cases")


def upgrade() -> None:
    with op.batch_alter_table("workflow_runs") as batch:
        batch.add_column(sa.Column("legal_entity_id", sa.String(length=40), nullable=True))
    for table in WITH_ENTITY:
        op.execute(
            f"UPDATE workflow_runs SET legal_entity_id = (SELECT s.legal_entity_id FROM {table} s"
            " WHERE s.id = workflow_runs.subject_id)"
            f" WHERE legal_entity_id IS NULL AND subject_id IN (SELECT id FROM {table})"
        )
    for table in WITH_CUSTOMER:
        op.execute(
            "UPDATE workflow_runs SET legal_entity_id = (SELECT c.legal_entity_id"
            f" FROM {table} s JOIN customers c ON c.id = s.customer_id"
            " WHERE s.id = workflow_runs.subject_id)"
            f" WHERE legal_entity_id IS NULL AND subject_id IN (SELECT id FROM {table})"
        )
    op.create_index(
        "ix_workflow_runs_entity_queue",
        "workflow_runs",
        ["legal_entity_id", "id"],
        postgresql_where=QUEUE_STATUSES,
        sqlite_where=QUEUE_STATUSES,
    )
    op.create_table(
        "duplicate_counts",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("source", sa.String(length=30), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "source", name=op.f("pk_duplicate_counts")),
    )


def downgrade() -> None:
    op.drop_table("duplicate_counts")
    op.drop_index("ix_workflow_runs_entity_queue", table_name="workflow_runs")
    with op.batch_alter_table("workflow_runs") as batch:
        batch.drop_column("legal_entity_id")
