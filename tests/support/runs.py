"""A workflow run of a subject as the tests read it back: the run and its steps' statuses."""

from __future__ import annotations

from sqlalchemy import select

from core.models.workflow_run import WorkflowRunRow, WorkflowStepRow
from process_apis.runs.engine import Engine
from tests.conftest import Gateway


async def run_and_steps(
    gateway: Gateway, workflow: str, subject_id: str
) -> tuple[WorkflowRunRow, dict[str, str]]:
    """The `workflow` run of `subject_id`, and its steps' statuses by step name."""
    async with gateway.sessionmaker() as session:
        run = await session.scalar(
            select(WorkflowRunRow).where(
                WorkflowRunRow.workflow == workflow, WorkflowRunRow.subject_id == subject_id
            )
        )
        assert run is not None
        steps = await session.scalars(
            select(WorkflowStepRow).where(WorkflowStepRow.run_id == run.id)
        )
        return run, {step.name: step.status for step in steps}


async def committed_run(engine: Engine, workflow: str) -> WorkflowRunRow:
    """A new run of `workflow` (of a probe subject) taken by `engine`, committed."""
    run = engine.new_run(
        workflow=workflow,
        subject_id="probe",
        params={},
        correlation_id=None,
        client_id=None,
        legal_entity_id=None,
    )
    async with engine.sessionmaker() as session:
        session.add(run)
        await session.commit()
    return run
