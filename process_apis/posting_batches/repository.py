"""The SQL of posting batches: creating one, reading it, claiming it, its items' outcomes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import NotFound
from core.ids import new_id
from core.models.base import utcnow
from core.models.posting_batch import (
    BatchStatus,
    ItemOutcome,
    PostingBatchItemRow,
    PostingBatchRow,
)
from core.models.workflow_run import RunStatus, WorkflowRunRow


async def add_batch(
    session: AsyncSession,
    invoice_ids: Sequence[str],
    *,
    client_id: str,
    correlation_id: str | None,
) -> PostingBatchRow:
    batch = PostingBatchRow(
        id=new_id("posting_batch"),
        client_id=client_id,
        correlation_id=correlation_id,
        status=BatchStatus.QUEUED,
    )
    session.add(batch)
    await session.flush()  # the items refer to it
    session.add_all(
        PostingBatchItemRow(
            batch_id=batch.id, position=position, invoice_id=invoice_id, outcome=ItemOutcome.PENDING
        )
        for position, invoice_id in enumerate(invoice_ids)
    )
    return batch


async def get_batch(session: AsyncSession, batch_id: str) -> PostingBatchRow:
    batch = await session.get(PostingBatchRow, batch_id)
    if batch is None:
        raise NotFound(f"no posting batch {batch_id}")
    return batch


async def batch_items(session: AsyncSession, batch_id: str) -> list[PostingBatchItemRow]:
    query = (
        select(PostingBatchItemRow)
        .where(PostingBatchItemRow.batch_id == batch_id)
        .order_by(PostingBatchItemRow.position)
    )
    return list(await session.scalars(query))


async def claim(session: AsyncSession, batch_id: str, *, lease: timedelta) -> BatchStatus | None:
    """Take the batch for this process: queued, or running with its lease passed (its
    process died, or it waits for runs another process held). The status it was taken
    from; none when another process holds it or it is completed."""
    now = utcnow()
    takings = (
        (BatchStatus.QUEUED, PostingBatchRow.status == BatchStatus.QUEUED),
        (
            BatchStatus.RUNNING,
            (PostingBatchRow.status == BatchStatus.RUNNING) & (PostingBatchRow.lease_until < now),
        ),
    )
    for status, takeable in takings:
        claimed = await session.execute(
            update(PostingBatchRow)
            .where(PostingBatchRow.id == batch_id, takeable)
            .values(status=BatchStatus.RUNNING, lease_until=now + lease, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount:  # type: ignore[attr-defined]
            return status
    return None


async def renew(session: AsyncSession, batch_id: str, *, lease: timedelta) -> None:
    now = utcnow()
    await session.execute(
        update(PostingBatchRow)
        .where(PostingBatchRow.id == batch_id)
        .values(lease_until=now + lease, updated_at=now)
        .execution_options(synchronize_session=False)
    )


async def abandoned(session: AsyncSession, *, limit: int) -> list[str]:
    """Batches nobody holds: queued, or running past their lease (their process died)."""
    now = utcnow()
    query = (
        select(PostingBatchRow.id)
        .where(
            or_(
                PostingBatchRow.status == BatchStatus.QUEUED,
                (PostingBatchRow.status == BatchStatus.RUNNING)
                & (PostingBatchRow.lease_until < now),
            )
        )
        .order_by(PostingBatchRow.created_at)
        .limit(limit)
    )
    return list(await session.scalars(query))


async def set_outcome(
    session: AsyncSession,
    batch_id: str,
    invoice_id: str,
    outcome: ItemOutcome,
    *,
    run_id: str | None,
    error_type: str | None = None,
    error_detail: str | None = None,
) -> None:
    await session.execute(
        update(PostingBatchItemRow)
        .where(
            PostingBatchItemRow.batch_id == batch_id,
            PostingBatchItemRow.invoice_id == invoice_id,
        )
        .values(
            outcome=outcome,
            run_id=run_id,
            error_type=error_type,
            error_detail=None if error_detail is None else error_detail[:1000],
        )
        .execution_options(synchronize_session=False)
    )


async def complete(session: AsyncSession, batch_id: str) -> None:
    now = utcnow()
    await session.execute(
        update(PostingBatchRow)
        .where(PostingBatchRow.id == batch_id)
        .values(status=BatchStatus.COMPLETED, lease_until=None, finished_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )


async def started_run(session: AsyncSession, batch: PostingBatchRow, run_id: str) -> bool:
    """Whether the batch started the run: one of its client and correlation id, created
    since the batch was accepted (a process of the batch's that died, or the worker
    after it, finished the run)."""
    if batch.correlation_id is None:
        return False
    found = await session.scalar(
        select(WorkflowRunRow.id).where(
            WorkflowRunRow.id == run_id,
            WorkflowRunRow.client_id == batch.client_id,
            WorkflowRunRow.correlation_id == batch.correlation_id,
            WorkflowRunRow.created_at >= batch.created_at,
        )
    )
    return found is not None


async def wait_for_runs(session: AsyncSession, batch_id: str, run_ids: Sequence[str]) -> None:
    """Leave the batch `running` until the latest lease of the runs (held by another
    process) passes, when it is taken again; at once for a run no longer held."""
    now = utcnow()
    leases = select(func.max(WorkflowRunRow.next_attempt_at)).where(
        WorkflowRunRow.id.in_(run_ids), WorkflowRunRow.status == RunStatus.RUNNING
    )
    await session.execute(
        update(PostingBatchRow)
        .where(PostingBatchRow.id == batch_id, PostingBatchRow.status == BatchStatus.RUNNING)
        .values(lease_until=func.coalesce(leases.scalar_subquery(), now), updated_at=now)
        .execution_options(synchronize_session=False)
    )
