"""The `ledgergate` command: serve, migrate, run a sandbox, print the OpenAPI document."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Awaitable, Callable
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, TypeVar

import typer
import uvicorn
from pydantic import ValidationError
from rich.console import Console
from rich.progress import Progress
from rich.table import Column, Table
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.governance.auth import clients
from app.governance.auth.keys import rotate_keys
from app.governance.logging import configure_logging
from app.main import WORKER_START_SECONDS
from app.operator import Operator, audited
from app.runtime import prepare_database, runtime
from app.seed import DEMO_CLIENTS
from core.db import create_engine, create_sessionmaker
from core.errors import LedgergateError
from core.migrate import upgrade
from core.models.base import utcnow
from core.models.workflow_run import RunStatus, WorkflowRunRow
from core.settings import get_settings
from process_apis import reconciliation
from process_apis.reconciliation import Reconciliation
from process_apis.runs.queue import queue_condition
from process_apis.settlements.schedule import previous_month
from process_apis.settlements.schemas import SettlementRunCreate, SettlementRunResult
from process_apis.settlements.workflow import UNPOSTED, SettlementPostingWorkflow
from process_apis.worker import replayer, run_forever

T = TypeVar("T")

app = typer.Typer(help="Ledgergate: the API-led integration gateway.", no_args_is_help=True)
console = Console(stderr=True)


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Interface to bind (default from settings).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default from settings).")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Start the gateway (migrates the database first)."""
    settings = get_settings()
    host, port = host or settings.host, port or settings.port
    configure_logging(settings.log_level)
    console.print(
        f"[bold green]Ledgergate[/] listening on [bold]http://{host}:{port}[/] "
        f"(docs: http://{host}:{port}/docs) · environment {settings.environment} · "
        f"database {settings.database_url.split('://', 1)[0]}"
    )
    if settings.should_seed_demo_data:
        console.print("Demo API clients (development only; the secrets are public):")
        for demo in DEMO_CLIENTS:
            console.print(
                f"  {demo.client_id:<18} secret {demo.secret:<26} {' '.join(sorted(demo.scopes))}"
            )
    if workers > 1:
        # Once here, rather than every worker racing to migrate and seed at its start.
        asyncio.run(prepare_database(settings.database_url, seed=settings.should_seed_demo_data))
        os.environ["LEDGERGATE_MIGRATE_ON_START"] = "false"
        os.environ["LEDGERGATE_SEED_DEMO_DATA"] = "false"
    uvicorn.run(
        "app.main:create_served_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        timeout_worker_healthcheck=WORKER_START_SECONDS,
    )


def _in_session(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one committed session on a migrated database."""
    settings = get_settings()

    async def run() -> T:
        engine = create_engine(settings.database_url)
        try:
            await upgrade(engine)
            async with create_sessionmaker(engine)() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await engine.dispose()

    return asyncio.run(run())


@app.command()
def migrate() -> None:
    """Apply every pending Alembic migration to the configured database."""

    async def nothing(_: AsyncSession) -> None:
        return None

    _in_session(nothing)
    console.print("[green]database is at the latest revision[/]")


clients_app = typer.Typer(help="Manage the API clients that may request tokens.")
app.add_typer(clients_app, name="clients")


@clients_app.command("create")
def clients_create(
    name: Annotated[str, typer.Option(help="Who the client is, for people.")],
    scope: Annotated[list[str], typer.Option(help="A scope to grant (repeat).")],
    operator: Operator,
    partner: Annotated[str | None, typer.Option(help="Bind the client to this partner id.")] = None,
    tier: Annotated[str, typer.Option(help="Rate-limit tier.")] = "standard",
) -> None:
    """Create a client and print its secret once (only a hash is stored)."""

    async def work(session: AsyncSession) -> tuple[str, str]:
        row, secret = await clients.create_client(
            session, name=name, scopes=scope, partner_id=partner, tier=tier
        )
        return row.id, secret

    client_id, secret = audited(
        operator,
        "clients create",
        lambda _: _in_session(work),
        arguments={"name": name, "scopes": scope, "partner": partner, "tier": tier},
    )
    console.print(f"client_id     [bold]{client_id}[/]\nclient_secret [bold]{secret}[/]")
    console.print("[yellow]Store the secret now: it cannot be shown again.[/]")


@clients_app.command("list")
def clients_list() -> None:
    """List clients with their scopes, partner binding and status."""

    async def work(session: AsyncSession) -> list[tuple[str, ...]]:
        return [
            (r.id, r.name, r.status, r.tier, r.partner_id or "", " ".join(r.scopes))
            for r in await clients.list_clients(session)
        ]

    table = Table(
        Column("client_id", no_wrap=True, min_width=30),
        "name",
        "status",
        "tier",
        "partner",
        "scopes",
    )
    for row in _in_session(work):
        table.add_row(*row)
    Console().print(table)


@clients_app.command("rotate")
def clients_rotate(
    client_id: str,
    operator: Operator,
    grace_minutes: Annotated[int, typer.Option(help="How long the old secret still works.")] = 60,
) -> None:
    """Issue a new secret; the previous one keeps working for the grace period."""

    async def work(session: AsyncSession) -> str:
        return await clients.rotate_secret(
            session, client_id, grace=timedelta(minutes=grace_minutes)
        )

    secret = audited(
        operator,
        "clients rotate",
        lambda _: _in_session(work),
        object_id=client_id,
        arguments={"grace_minutes": grace_minutes},
    )
    console.print(f"client_secret [bold]{secret}[/]")


@clients_app.command("disable")
def clients_disable(client_id: str, operator: Operator) -> None:
    """Refuse the client new tokens and, within seconds, its live ones."""

    async def work(session: AsyncSession) -> None:
        await clients.disable_client(session, client_id)

    audited(operator, "clients disable", lambda _: _in_session(work), object_id=client_id)
    console.print(f"[red]{client_id} disabled[/]")


keys_app = typer.Typer(help="Manage token signing keys.")
app.add_typer(keys_app, name="keys")


@keys_app.command("rotate")
def keys_rotate(operator: Operator) -> None:
    """Start signing with a new key; the old one verifies until its tokens expire."""
    auth = get_settings().auth

    async def work(session: AsyncSession) -> str:
        return await rotate_keys(session, algorithm=auth.algorithm, token_ttl=auth.token_ttl)

    key = audited(operator, "keys rotate", lambda _: _in_session(work))
    console.print(f"new signing key [bold]{key}[/]")


class Sandbox(StrEnum):
    ERP = "erp"
    BILLING = "billing"
    CRM = "crm"
    SUPPORT = "support"


@app.command()
def sandbox(
    backend: Annotated[Sandbox, typer.Argument(help="Which backend to impersonate.")],
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8100,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
) -> None:
    """Run a built-in backend sandbox as its own HTTP server."""
    from starlette.types import ASGIApp

    from sandboxes import business_central, crm, stripe, support

    factories: dict[Sandbox, Callable[[], ASGIApp]] = {
        Sandbox.ERP: business_central.create_app,
        Sandbox.BILLING: stripe.create_app,
        Sandbox.CRM: crm.create_app,
        Sandbox.SUPPORT: support.create_app,
    }
    sandbox_app = factories[backend]()
    console.print(f"[bold]{backend.value} sandbox[/] listening on http://{host}:{port}")
    uvicorn.run(sandbox_app, host=host, port=port, log_level="warning")


@app.command()
def openapi() -> None:
    """Print the gateway's OpenAPI document."""
    from app.main import create_app

    typer.echo(json.dumps(create_app().openapi(), indent=2, sort_keys=True))


@app.command()
def worker(
    interval: Annotated[float, typer.Option(help="Seconds between polls when idle.")] = 5.0,
    once: Annotated[bool, typer.Option(help="Drain what is due once, then exit.")] = False,
) -> None:
    """The replay worker: retries due runs of the exception queue, purges old idempotency keys.

    Several workers (and replicas) cooperate: each claims runs with FOR UPDATE SKIP LOCKED.
    """
    settings = get_settings()
    configure_logging(settings.log_level)

    async def run() -> None:
        async with runtime(settings) as running:
            if once:
                report = await replayer(running.context).run_once()
                console.print(f"claimed {report.claimed}: {report.outcomes}")
                return
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signal_number in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signal_number, stop.set)
            console.print(f"[bold]replay worker[/] polling every {interval} s")
            await run_forever(running.context, interval=interval, stop=stop)

    asyncio.run(run())


exceptions_app = typer.Typer(help="The exception queue: runs waiting for a retry or a person.")
app.add_typer(exceptions_app, name="exceptions")


@exceptions_app.command("list")
def exceptions_list(
    workflow: Annotated[str | None, typer.Option(help="Only this workflow.")] = None,
    error_class: Annotated[
        str | None, typer.Option("--class", help="transient, business, ...")
    ] = None,
) -> None:
    """Queued runs, oldest first, with their age and error."""

    async def work(session: AsyncSession) -> list[WorkflowRunRow]:
        now = utcnow()
        query = select(WorkflowRunRow).where(queue_condition(now))
        if workflow:
            query = query.where(WorkflowRunRow.workflow == workflow)
        if error_class:
            query = query.where(WorkflowRunRow.error_class == error_class)
        return list(await session.scalars(query.order_by(WorkflowRunRow.created_at)))

    table = Table(
        Column("run", no_wrap=True),
        "workflow",
        "subject",
        "status",
        "class",
        "age",
        "attempts",
        "error",
    )
    now = utcnow()
    for run in _in_session(work):
        age = int((now - run.created_at).total_seconds())
        table.add_row(
            run.id,
            run.workflow,
            run.subject_id,
            run.status,
            run.error_class or "",
            f"{age}s",
            str(run.attempts),
            (run.error_detail or "")[:60],
        )
    Console().print(table)


@exceptions_app.command("replay")
def exceptions_replay(
    operator: Operator,
    run_ids: Annotated[list[str] | None, typer.Argument(help="Runs to replay.")] = None,
    all_queued: Annotated[bool, typer.Option("--all", help="Every queued run.")] = False,
) -> None:
    """Replay runs now (a progress bar for many); each ends posted, queued again or failed."""
    settings = get_settings()

    async def run(_: str) -> dict[str, int]:
        async with runtime(settings) as running:
            ids = list(run_ids or [])
            if all_queued:
                async with running.sessionmaker() as session:
                    query = select(WorkflowRunRow.id).where(queue_condition(utcnow()))
                    ids += list(await session.scalars(query.order_by(WorkflowRunRow.created_at)))
            replay = replayer(running.context)
            outcomes: dict[str, int] = {}
            with Progress(console=console) as progress:
                task = progress.add_task("replaying", total=len(ids))
                for run_id in ids:
                    try:
                        status = await replay.replay(run_id)
                    except LedgergateError as error:
                        status = f"skipped ({error.slug})"
                    outcomes[status] = outcomes.get(status, 0) + 1
                    progress.advance(task)
            return outcomes

    outcomes = audited(
        operator,
        "exceptions replay",
        lambda correlation_id: asyncio.run(run(correlation_id)),
        object_id=run_ids[0] if run_ids and len(run_ids) == 1 else None,
        arguments={"run_ids": run_ids, "all": all_queued},
    )
    console.print(outcomes)


def _close(run_id: str, status: RunStatus, note: str, operator: str) -> None:
    settings = get_settings()

    async def run() -> None:
        async with runtime(settings) as running:
            await replayer(running.context).close(
                run_id, status=status, note=note, operator=operator
            )

    action = "exceptions resolve" if status == RunStatus.RESOLVED else "exceptions discard"
    audited(
        operator, action, lambda _: asyncio.run(run()), object_id=run_id, arguments={"note": note}
    )
    console.print(f"{run_id} {status}")


@exceptions_app.command("resolve")
def exceptions_resolve(
    run_id: str,
    note: Annotated[str, typer.Option(help="What was done, for the record.")],
    operator: Operator,
) -> None:
    """Close a run that was fixed outside the gateway."""
    _close(run_id, RunStatus.RESOLVED, note, operator)


@exceptions_app.command("discard")
def exceptions_discard(
    run_id: str,
    note: Annotated[str, typer.Option(help="Why it is given up.")],
    operator: Operator,
) -> None:
    """Give a run up; its subject is compensated."""
    _close(run_id, RunStatus.DISCARDED, note, operator)


@app.command()
def settle(
    operator: Operator,
    period: Annotated[
        str | None, typer.Option(help="The month, YYYY-MM (default: the previous month).")
    ] = None,
    legal_entity: Annotated[
        str | None, typer.Option(help="Only this legal entity (le_...).")
    ] = None,
) -> None:
    """Settle an ended month: one statement per partner, legal entity and currency, journaled
    in the ERP, with progress. Exits 1 when a statement's posting waits in the queue."""
    settings = get_settings()
    try:
        request = SettlementRunCreate(
            period=period or previous_month(utcnow().date()), legal_entity_id=legal_entity
        )
    except ValidationError as error:
        raise typer.BadParameter(error.errors()[0]["msg"]) from error

    async def run(correlation_id: str) -> SettlementRunResult:
        async with runtime(settings) as running:
            with Progress(console=console) as progress:
                task = progress.add_task(f"settling {request.period}", total=None)

                def posted(done: int, total: int) -> None:
                    progress.update(task, completed=done, total=total)

                return await SettlementPostingWorkflow(running.context).run_period(
                    request.period,
                    legal_entity_id=request.legal_entity_id,
                    client_id=operator,
                    correlation_id=correlation_id,
                    progress=posted,
                )

    result = audited(
        operator,
        "settle",
        lambda correlation_id: asyncio.run(run(correlation_id)),
        object_id=legal_entity,
        arguments=request.model_dump(mode="json"),
    )
    table = Table(
        Column("settlement", no_wrap=True),
        "partner",
        "legal entity",
        "currency",
        "total",
        "prior-period adjustment",
        "status",
        title=f"{result.period}: {result.drawn_up} drawn up",
    )
    for statement in result.settlements:
        table.add_row(
            statement.id,
            statement.partner_id,
            statement.legal_entity_id,
            statement.currency,
            str(statement.total_commission),
            str(statement.adjustment_total),
            statement.status,
        )
    Console().print(table)
    for legal_entity_id in result.awaiting_period_close:
        console.print(f"[yellow]{legal_entity_id}: waits for its accounting period to close[/]")
    if any(s.status in UNPOSTED for s in result.settlements):
        raise typer.Exit(code=1)


@app.command()
def reconcile(
    period: Annotated[str, typer.Option(help="The month, YYYY-MM.")],
    legal_entity: Annotated[str, typer.Option(help="The legal entity id (le_...).")],
) -> None:
    """Compare the gateway's posted invoices, credit memos and settlements with the ERP's."""
    settings = get_settings()

    async def run() -> Reconciliation:
        async with runtime(settings) as running, running.sessionmaker() as session:
            return await reconciliation.reconcile(
                running.context, session, legal_entity_id=legal_entity, period=period
            )

    result = asyncio.run(run())
    totals = Table(
        "type",
        "currency",
        "gateway count",
        "gateway total",
        "ERP count",
        "ERP total",
        title=f"{legal_entity} {result.period_start}..{result.period_end}",
    )
    for line in result.totals:
        totals.add_row(
            line.document_type,
            line.currency,
            str(line.gateway_count),
            str(line.gateway_total),
            str(line.erp_count),
            str(line.erp_total),
        )
    Console().print(totals)
    if result.clean:
        console.print("[green]clean: both sides agree[/]")
        return
    differences = Table("kind", "type", "gateway id", "ERP number", "currency", "gateway", "ERP")
    for diff in result.differences:
        differences.add_row(
            diff.kind,
            diff.document_type,
            diff.gateway_id or "",
            diff.erp_number or "",
            diff.currency,
            str(diff.gateway_amount or ""),
            str(diff.erp_amount or ""),
        )
    Console().print(differences)
    raise typer.Exit(code=1)


if __name__ == "__main__":
    app()
