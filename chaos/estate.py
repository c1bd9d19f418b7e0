"""One check's estate: throwaway database, ERP sandbox process, gateway process, worker.

Everything listens on and talks over loopback, and everything is stopped (and the
database dropped) when the `with` block ends, however it ends. "Time passes" is
simulated as the recovery tests do: the leases of runs a dead or idle process held,
the backoffs of queued runs and the locks of interrupted idempotency keys are moved
into the past, so the harness need not wait minutes for them.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import httpx
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import create_engine, create_sessionmaker
from core.models.base import utcnow
from core.models.idempotency_key import IdempotencyKeyRow
from core.models.workflow_run import RunStatus, WorkflowRunRow
from tests.support.gateway_process import start_gateway, stop, token
from tests.support.sandbox_processes import (
    REPO_ROOT,
    SandboxProcess,
    free_port,
    sandbox_process,
)

ADMIN_DSN = os.environ.get(
    "LEDGERGATE_CHAOS_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)
WORKER_SECONDS = 300
WORKERS = 4
DRAIN_ROUNDS = 20


@dataclass
class Estate:
    """What a check drives and inspects; `env` is the gateway's (and its worker's)."""

    name: str
    database_url: str
    erp: SandboxProcess
    env: dict[str, str]
    logs: Path
    base: str = ""
    gateway: subprocess.Popen[bytes] | None = None
    starts: int = 0
    drain_rounds: int = 0

    @property
    def rounds(self) -> str:
        """`2 rounds of 4 workers`"""
        plural = "s" if self.drain_rounds != 1 else ""
        return f"{self.drain_rounds} round{plural} of {WORKERS} workers"

    def start_gateway(self) -> str:
        self.starts += 1
        self.gateway, self.base = start_gateway(
            self.env, log=self.logs / f"{self.name}-gateway-{self.starts}.log"
        )
        return self.base

    def stop_gateway(self) -> None:
        if self.gateway is not None:
            stop(self.gateway)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {token(self.base)}"}

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        engine = create_engine(self.database_url, pool_size=1)
        try:
            async with create_sessionmaker(engine)() as session:
                yield session
        finally:
            await engine.dispose()

    async def time_passes(self) -> None:
        """Leases, backoffs and idempotency locks run out (no process may hold them now)."""
        past = utcnow() - timedelta(seconds=1)
        async with self.session() as session:
            await session.execute(
                update(WorkflowRunRow)
                .where(WorkflowRunRow.status.in_((RunStatus.PENDING_RETRY, RunStatus.RUNNING)))
                .values(next_attempt_at=past)
            )
            await session.execute(
                update(IdempotencyKeyRow)
                .where(IdempotencyKeyRow.locked_until.is_not(None))
                .values(locked_until=past)
            )
            await session.commit()

    async def due_runs(self) -> int:
        async with self.session() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(WorkflowRunRow)
                .where(WorkflowRunRow.status.in_((RunStatus.PENDING_RETRY, RunStatus.RUNNING)))
            )
            return int(count or 0)

    async def work_once(self) -> None:
        """One `ledgergate worker --once`: one pass of every kind of background work."""
        log = self.logs / f"{self.name}-worker.log"
        with log.open("ab") as output:
            worker = await asyncio.create_subprocess_exec(
                sys.executable,
                *("-m", "app.cli", "worker", "--once"),
                env=self.env,
                cwd=REPO_ROOT,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
            code = await asyncio.wait_for(worker.wait(), WORKER_SECONDS)
        if code:
            raise RuntimeError(f"a worker exited with {code}; see {log}")

    async def drain(self, *, rounds: int = DRAIN_ROUNDS) -> None:
        """Rounds of `WORKERS` replay workers at once (`ledgergate worker --once`, which
        claim with SKIP LOCKED) until no run waits for a retry; time passes between."""
        for _ in range(rounds):
            if await self.due_runs() == 0:
                return
            await self.time_passes()
            self.drain_rounds += 1
            log = self.logs / f"{self.name}-worker.log"
            with log.open("ab") as output:
                workers = [
                    await asyncio.create_subprocess_exec(
                        sys.executable,
                        *("-m", "app.cli", "worker", "--once"),
                        env=self.env,
                        cwd=REPO_ROOT,
                        stdout=output,
                        stderr=subprocess.STDOUT,
                    )
                    for _ in range(WORKERS)
                ]
                codes = await asyncio.wait_for(
                    asyncio.gather(*(worker.wait() for worker in workers)), WORKER_SECONDS
                )
            if any(codes):
                raise RuntimeError(f"a replay worker exited with {codes}; see {log}")
        raise RuntimeError(f"the exception queue did not drain in {rounds} rounds")

    def reconcile(self, *, period: str, legal_entity: str) -> bool:
        """`ledgergate reconcile`: whether the gateway and the ERP agree on the period."""
        completed = subprocess.run(
            [
                sys.executable,
                "-m",
                "app.cli",
                "reconcile",
                "--period",
                period,
                "--legal-entity",
                legal_entity,
            ],
            env={**self.env, "COLUMNS": "200"},
            cwd=REPO_ROOT,
            capture_output=True,
            timeout=WORKER_SECONDS,
            check=False,
        )
        (self.logs / f"{self.name}-reconcile.log").write_bytes(completed.stdout + completed.stderr)
        return completed.returncode == 0


async def create_database() -> str:
    name = f"lg_chaos_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(ADMIN_DSN, timeout=5)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}"


async def drop_database(url: str) -> None:
    admin = await asyncpg.connect(ADMIN_DSN, timeout=30)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await admin.close()


@contextmanager
def estate(name: str, logs: Path, **settings: str) -> Iterator[Estate]:
    """A fresh estate for one check; `settings` are extra `LEDGERGATE_*` variables."""
    database_url = asyncio.run(create_database())
    try:
        # Every backend in its own process, shared by the gateway and the replay workers.
        with (
            sandbox_process("erp", log=logs / f"{name}-erp.log") as erp,
            sandbox_process("billing", log=logs / f"{name}-billing.log") as billing,
            sandbox_process("crm", log=logs / f"{name}-crm.log") as crm,
            sandbox_process("support", log=logs / f"{name}-support.log") as support,
        ):
            env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGERGATE_")}
            env.update(
                LEDGERGATE_DATABASE_URL=database_url,
                LEDGERGATE_ENVIRONMENT="development",  # the demo estate and demo clients
                LEDGERGATE_BACKGROUND_WORK="false",  # the checks drain with `worker --once`
                LEDGERGATE_PORT=str(free_port()),
                LEDGERGATE_ERP__URL=erp.api_root,
                LEDGERGATE_BILLING__URL=billing.api_root,
                # The billing sandbox process counts no limit: no budget of Stripe's.
                LEDGERGATE_BILLING__BUDGET_ENABLED="false",
                LEDGERGATE_CRM__URL=crm.api_root,
                LEDGERGATE_SUPPORT__URL=support.api_root,
                LEDGERGATE_RATE_LIMITS__ENABLED="false",
                LEDGERGATE_LOG_LEVEL="WARNING",
                **settings,
            )
            place = Estate(name, database_url, erp, env, logs)
            try:
                yield place
            finally:
                place.stop_gateway()
    finally:
        _drop_with_retries(database_url)


def _drop_with_retries(url: str) -> None:
    """Drop the database, waiting out a server that is still coming back from a restart."""
    deadline = time.monotonic() + 60
    while True:
        try:
            asyncio.run(drop_database(url))
            return
        except (OSError, asyncpg.PostgresError):
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def erp_documents(erp: SandboxProcess, company_id: str) -> list[dict[str, object]]:
    """Every sales invoice the ERP sandbox holds for the company."""
    url = f"{erp.api_root}/companies({company_id})/salesInvoices"
    response = httpx.get(url, timeout=30)
    response.raise_for_status()
    documents: list[dict[str, object]] = response.json()["value"]
    return documents


def repeated_creates(erp: SandboxProcess) -> dict[str, int]:
    response = httpx.get(f"{erp.origin}/_sandbox/repeated-creates", timeout=30)
    response.raise_for_status()
    counts: dict[str, int] = response.json()
    return counts
