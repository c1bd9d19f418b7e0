"""workflow runs: one index of (subject, workflow, created_at, id) instead of the subject's
alone, so a subject's latest run of a workflow is one probe whatever the planner's
statistics say of the workflow's (a month-start run grows it faster than they follow)

Revision ID: 0044
Revises: 0043
Create Date: 2026-12-08 02:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0044"
down_revision: str | None = "0043"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("workflow_runs") as batch:
        batch.create_index(
            "ix_workflow_runs_subject_latest",
            ["subject_id", "workflow", "created_at", "id"],
            unique=False,
        )
        batch.drop_index(batch.f("ix_workflow_runs_subject_id"))


def downgrade() -> None:
    with op.batch_alter_table("workflow_runs") as batch:
        batch.create_index(batch.f("ix_workflow_runs_subject_id"), ["subject_id"], unique=False)
        batch.drop_index("ix_workflow_runs_subject_latest")
