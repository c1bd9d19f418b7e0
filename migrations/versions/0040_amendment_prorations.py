"""amendment prorations: the net an amendment posted to the ERP, for revenue schedules;
the amendments applied before are recorded from their runs (the acknowledged ERP
adjustment and billing's quote)

Revision ID: 0040
Revises: 0039
Create Date: 2026-12-06 16:30:00.000000
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from core.models.base import utcnow
from process_apis.subscriptions.schemas import ErpAdjustment
from process_apis.subscriptions.workflow.proration import proration_row
from system_apis.billing.schemas import ProrationPreview

revision: str = "0040"
down_revision: str | None = "0039"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "amendment_prorations",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("subscription_id", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("service_start", sa.Date(), nullable=False),
        sa.Column("service_end", sa.Date(), nullable=False),
        sa.Column("posting_date", sa.Date(), nullable=False),
        sa.Column("erp_document_number", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["id"], ["workflow_runs.id"], name=op.f("fk_amendment_prorations_id_workflow_runs")
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_amendment_prorations_subscription_id_subscriptions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_amendment_prorations")),
    )
    op.create_index(
        op.f("ix_amendment_prorations_subscription_id"),
        "amendment_prorations",
        ["subscription_id"],
        unique=False,
    )
    _record_applied_amendments()


def _record_applied_amendments() -> None:
    runs = sa.table(
        "workflow_runs",
        sa.column("id", sa.String),
        sa.column("workflow", sa.String),
        sa.column("subject_id", sa.String),
        sa.column("status", sa.String),
        sa.column("result", sa.JSON),
    )
    steps = sa.table(
        "workflow_steps",
        sa.column("run_id", sa.String),
        sa.column("name", sa.String),
        sa.column("status", sa.String),
        sa.column("outcome", sa.JSON),
    )
    applied = op.get_bind().execute(
        sa.select(runs.c.id, runs.c.subject_id, runs.c.result, steps.c.outcome)
        .join(steps, steps.c.run_id == runs.c.id)
        .where(
            runs.c.workflow == "subscription_amendment",
            runs.c.status == "succeeded",
            steps.c.name == "quote_proration",
            steps.c.status == "succeeded",
        )
    )
    rows = []
    for run_id, subscription_id, result, quote in applied.all():
        adjustment = (result or {}).get("erp_adjustment")
        if adjustment is None or quote is None:
            continue
        row = proration_row(
            run_id,
            subscription_id,
            ProrationPreview.model_validate(quote["preview"]),
            ErpAdjustment.model_validate(adjustment),
        )
        values = {column.name: getattr(row, column.name) for column in _columns()[:-1]}
        rows.append({**values, "created_at": utcnow()})
    if rows:
        op.bulk_insert(sa.table("amendment_prorations", *_columns()), rows)


def _columns() -> list[sa.ColumnClause[Any]]:
    return [
        sa.column("id", sa.String),
        sa.column("subscription_id", sa.String),
        sa.column("currency", sa.String),
        sa.column("amount", sa.BigInteger),
        sa.column("service_start", sa.Date),
        sa.column("service_end", sa.Date),
        sa.column("posting_date", sa.Date),
        sa.column("erp_document_number", sa.String),
        sa.column("created_at", sa.DateTime(timezone=True)),
    ]


def downgrade() -> None:
    op.drop_index(
        op.f("ix_amendment_prorations_subscription_id"), table_name="amendment_prorations"
    )
    op.drop_table("amendment_prorations")
