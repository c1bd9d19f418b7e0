"""The posting's writes after its prepare (the steps' statements, the closing, the key's
completion), counted in the Python calls they make into SQLAlchemy and asyncpg, so a
regression fails."""

import asyncio
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import greenlet
import pytest

from process_apis.idempotency import IdempotencyStore
from process_apis.invoices.workflow import InvoicePostingWorkflow
from tests.conftest import Gateway
from tests.integration.test_invoice_posting import post, register

DATABASE_LAYER = ("/sqlalchemy/", "/asyncpg/")
# The ERP's calls (its client, its budget's transactions, the in-process sandbox) are not
# the posting's writes.
ELSEWHERE = ("/system_apis/", "/sandboxes/")


def _elsewhere(frame: FrameType | None) -> bool:
    """Whether `frame` runs under the ERP's code; a frame of SQLAlchemy's greenlet is
    followed into the coroutine that spawned it."""
    spawned = greenlet.getcurrent().parent
    while frame is not None:
        if any(part in frame.f_code.co_filename for part in ELSEWHERE):
            return True
        frame = frame.f_back
        if frame is None and spawned is not None:
            frame, spawned = spawned.gr_frame, None
    return False


@contextmanager
def database_layer_calls(started: list[asyncio.Task[Any]]) -> Iterator[list[str]]:
    """The Python calls into SQLAlchemy and asyncpg the block's task makes while it runs,
    and the tasks it starts (added to `started`), the ERP's left out."""
    called: list[str] = []
    loop = asyncio.get_running_loop()
    ours = {asyncio.current_task()}
    factory = loop.get_task_factory()

    def start(loop: asyncio.AbstractEventLoop, coroutine: Any, **kw: Any) -> asyncio.Task[Any]:
        task = asyncio.Task(coroutine, loop=loop, **kw)
        if asyncio.current_task() in ours and not _elsewhere(sys._getframe()):
            ours.add(task)
            started.append(task)
        return task

    def profile(frame: FrameType, event: str, _: Any) -> None:
        name = frame.f_code.co_filename
        if event == "call" and any(part in name for part in DATABASE_LAYER):
            if asyncio.current_task() in ours and not _elsewhere(frame):
                called.append(f"{name}:{frame.f_code.co_name}")

    previous = sys.getprofile()
    loop.set_task_factory(start)
    sys.setprofile(profile)
    try:
        yield called
    finally:
        sys.setprofile(previous)
        loop.set_task_factory(factory)


@dataclass
class Counted:
    calls: list[str] = field(default_factory=list)
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    def around(self, method: Callable[..., Any]) -> Callable[..., Any]:
        """`method`, its calls into the database layer and the tasks it starts counted."""

        async def counted(*args: Any, **kw: Any) -> Any:
            with database_layer_calls(self.tasks) as calls:
                try:
                    return await method(*args, **kw)
                finally:
                    self.calls.extend(calls)

        return counted


async def after_prepare(gateway: Gateway, monkeypatch: pytest.MonkeyPatch, key: str) -> Counted:
    """What one posting's steps, closing and completion make of the database layer, after
    postings that warmed the caches (the first sets the customer's ERP reference, so its
    writes have another shape) and prepared the statements on the pool's connections."""
    for warm in range(5):
        response = await post(gateway, await register(gateway), f"{key}-warm-{warm}")
        assert response.status_code == 201, response.text
    invoice_id, counted = await register(gateway), Counted()
    monkeypatch.setattr(
        InvoicePostingWorkflow, "execute", counted.around(InvoicePostingWorkflow.execute)
    )
    monkeypatch.setattr(IdempotencyStore, "complete", counted.around(IdempotencyStore.complete))
    response = await post(gateway, invoice_id, key)
    assert response.status_code == 201, response.text
    return counted


async def test_a_posting_s_writes_after_its_prepare_cost_few_database_layer_calls(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted = await after_prepare(gateway, monkeypatch, "write-calls")
    # 469 on PostgreSQL (1,181 on SQLite) when the closing's rows were set attribute by
    # attribute (`set_committed_value`), the driver's decorated types went through
    # SQLAlchemy's wrapper of their processor and each write read its connection's dialect.
    limit = 400 if gateway.sessionmaker.kw["bind"].dialect.name == "postgresql" else 1_140
    assert len(counted.calls) <= limit


async def test_a_posting_s_writes_start_no_task(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The step's start closed its connection by `async with`, which SQLAlchemy does in a
    # task of its own, shielded: some 60 Python calls more than closing it in the posting's task.
    counted = await after_prepare(gateway, monkeypatch, "write-tasks")
    assert counted.tasks == []
