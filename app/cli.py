"""The `ledgergate` command: serve, migrate, run a sandbox, print the OpenAPI document."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.backends import private_sandboxes
from app.cli_errors import ReportingGroup
from app.cli_output import OutputFormat, OutputOption, print_json, print_table, table
from app.cli_session import in_session
from app.events_cli import events_app
from app.governance.auth import clients
from app.governance.auth.client_status import announce_status_change
from app.governance.auth.keys import rotate_keys
from app.governance.logging import configure_logging
from app.governance.worker_metrics import serve_worker_metrics
from app.operator import Operator, audited
from app.operators_cli import operators_app
from app.payments_cli import payments_app
from app.refdata_cli import refdata_app
from app.runtime import prepare_database, runtime
from app.sandbox_servers import PORTS, sandbox_url, serve_sandboxes
from app.seed import DEMO_CLIENTS, demo_netsuite_connection
from app.served import serve_argv
from app.usage_cli import usage_app
from app.webhooks_cli import webhooks_app
from core.errors import LedgergateError
from core.key_encryption import KeyEncryption
from core.models.base import utcnow
from core.models.workflow_run import RunStatus, WorkflowRunRow
from core.settings import Settings, get_settings
from process_apis.credit_memos.corrections import CorrectionWorkflow, Requester
from process_apis.credit_memos.schemas import CorrectionCreate, CorrectionLine
from process_apis.deps import ProcessContext, Transaction
from process_apis.invoices import mismatch
from process_apis.reconciliation import service as reconciliation
from process_apis.reconciliation.schemas import CurrencyTotals, Reconciliation
from process_apis.runs.queue import queue_condition
from process_apis.settlements.schedule import previous_month
from process_apis.settlements.schemas import SettlementRunCreate, SettlementRunResult
from process_apis.settlements.workflow import UNPOSTED, SettlementPostingWorkflow
from process_apis.worker import BackgroundWork
from process_apis.workflows import replayer

T = TypeVar("T")

app = typer.Typer(
    cls=ReportingGroup, help="Ledgergate: the API-led integration gateway.", no_args_is_help=True
)
console = Console(stderr=True)


@app.callback()
def main(
    traceback: Annotated[
        bool, typer.Option("--traceback", help="On failure, show the whole error, not one line.")
    ] = False,
) -> None:
    """Ledgergate: the API-led integration gateway."""


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Interface to bind (default from settings).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default from settings).")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    background: Annotated[
        bool | None,
        typer.Option(
            help="Run the background work (retries, webhook inbox, purges) in process "
            "[default: on in development]."
        ),
    ] = None,
) -> None:
    """Start the gateway (migrates the database first)."""
    if background is not None:  # each uvicorn process reads its settings afresh
        os.environ["LEDGERGATE_BACKGROUND_WORK"] = str(background).lower()
        get_settings.cache_clear()
    settings = get_settings()
    host, port = host or settings.host, port or settings.port
    configure_logging(settings.log_level)
    if workers > 1:
        _refuse_private_sandboxes(settings, f"serve --workers {workers}")
    console.print(
        f"[bold green]Ledgergate[/] listening on [bold]http://{host}:{port}[/] "
        f"(docs: http://{host}:{port}/docs) · environment {settings.environment} · "
        f"database {settings.database_url.split('://', 1)[0]} · background work "
        f"{'in process' if settings.runs_background_work else 'off (run `ledgergate worker`)'}"
    )
    if settings.should_seed_demo_clients:
        console.print("Demo API clients (development only; the secrets are public):")
        for demo in DEMO_CLIENTS:
            console.print(
                f"  {demo.client_id:<18} secret {demo.secret:<26} {' '.join(sorted(demo.scopes))}"
            )
    if workers > 1:
        # Once here, rather than every worker racing to migrate and seed at its start.
        asyncio.run(
            prepare_database(
                settings.database_url,
                seed=settings.should_seed_demo_data,
                demo_clients=settings.should_seed_demo_clients,
                netsuite_connection=demo_netsuite_connection(settings),
            )
        )
        os.environ["LEDGERGATE_MIGRATE_ON_START"] = "false"
        os.environ["LEDGERGATE_SEED_DEMO_DATA"] = "false"
    sys.stderr.flush()
    os.execv(sys.executable, serve_argv(host, port, workers))


def _refuse_private_sandboxes(settings: Settings, command: str) -> None:
    """Stop when this process would get sandboxes of its own that no other process sees."""
    private = private_sandboxes(settings)
    if not private:
        return
    console.print(
        f"[red]ledgergate {command} refuses to start:[/] no URL for {', '.join(private)}, so "
        "it would run a private in-memory sandbox that the gateway cannot see. Start the "
        "sandboxes once for every process (`ledgergate sandbox all`) and give each process "
        "their URLs:"
    )
    for name in private:
        console.print(f"  LEDGERGATE_{name.upper()}__URL={sandbox_url(name)}")
    raise typer.Exit(code=2)


@app.command()
def migrate() -> None:
    """Apply every pending Alembic migration to the configured database."""

    async def nothing(_: AsyncSession) -> None:
        return None

    in_session(nothing)
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
        lambda _: in_session(work),
        arguments={"name": name, "scopes": scope, "partner": partner, "tier": tier},
    )
    console.print(f"client_id     [bold]{client_id}[/]\nclient_secret [bold]{secret}[/]")
    console.print("[yellow]Store the secret now: it cannot be shown again.[/]")


@clients_app.command("list")
def clients_list(output: OutputOption = OutputFormat.TABLE) -> None:
    """List clients with their scopes, partner binding and status."""

    async def work(session: AsyncSession) -> list[dict[str, Any]]:
        return [
            {
                "client_id": r.id,
                "name": r.name,
                "status": r.status,
                "tier": r.tier,
                "partner_id": r.partner_id,
                "scopes": sorted(r.scopes),
            }
            for r in await clients.list_clients(session)
        ]

    listed = in_session(work)
    if output is OutputFormat.JSON:
        print_json(listed)
        return
    rows = table("client_id", "name", "status", "tier", "partner", "scopes")
    for client in listed:
        rows.add_row(
            client["client_id"],
            client["name"],
            client["status"],
            client["tier"],
            client["partner_id"] or "",
            " ".join(client["scopes"]),
        )
    print_table(rows)


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
        lambda _: in_session(work),
        object_id=client_id,
        arguments={"grace_minutes": grace_minutes},
    )
    console.print(f"client_secret [bold]{secret}[/]")


@clients_app.command("disable")
def clients_disable(client_id: str, operator: Operator) -> None:
    """Refuse the client new tokens and, within seconds, its live ones."""

    async def work(session: AsyncSession) -> None:
        await clients.disable_client(session, client_id)

    audited(operator, "clients disable", lambda _: in_session(work), object_id=client_id)
    settings = get_settings()
    if asyncio.run(announce_status_change(settings.rate_limit_storage_url)):
        console.print(f"[red]{client_id} disabled[/]")
    else:
        console.print(
            f"[red]{client_id} disabled[/]; Redis could not be told: its live tokens stop "
            f"working within {settings.auth.client_cache_seconds:g} s"
        )


app.add_typer(refdata_app, name="refdata")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(payments_app, name="payments")
app.add_typer(events_app, name="events")
app.add_typer(usage_app, name="usage")
app.add_typer(operators_app, name="operators")

keys_app = typer.Typer(help="Manage token signing keys.")
app.add_typer(keys_app, name="keys")


@keys_app.command("rotate")
def keys_rotate(operator: Operator) -> None:
    """Start signing with a new key; the old one verifies until its tokens expire."""
    auth = get_settings().auth

    async def work(session: AsyncSession) -> str:
        return await rotate_keys(
            session,
            algorithm=auth.algorithm,
            token_ttl=auth.token_ttl,
            encryption=KeyEncryption.from_settings(auth),
        )

    key = audited(operator, "keys rotate", lambda _: in_session(work))
    console.print(f"new signing key [bold]{key}[/]")


class Sandbox(StrEnum):
    ALL = "all"
    ERP = "erp"
    BILLING = "billing"
    CRM = "crm"
    SUPPORT = "support"


@app.command()
def sandbox(
    backend: Annotated[Sandbox, typer.Argument(help="Which backend to impersonate, or all four.")],
    port: Annotated[
        int | None,
        typer.Option(help="Port [default: erp 8101, billing 8102, crm 8103, support 8104]."),
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    webhook_url: Annotated[
        str | None,
        typer.Option(
            help="Billing: where to POST its signed events, e.g. "
            "http://127.0.0.1:8000/webhooks/billing/stripe (none: events are only kept)."
        ),
    ] = None,
    crm_webhook_url: Annotated[
        str | None,
        typer.Option(
            help="CRM: where to POST its signed accepted quotes, e.g. "
            "http://127.0.0.1:8000/webhooks/crm/channel (none: events are only kept)."
        ),
    ] = None,
) -> None:
    """Run built-in backend sandboxes as HTTP servers, shared by every process given their URL.

    With `all`, the four listen on consecutive ports from `--port` (default 8101).
    """
    names = list(PORTS) if backend is Sandbox.ALL else [backend.value]
    first = port if port is not None else PORTS[names[0]]
    ports = {name: first + offset for offset, name in enumerate(names)}
    settings = get_settings()
    for name, bound in ports.items():
        url = sandbox_url(name, host=host, port=bound)
        console.print(f"[bold]{name} sandbox[/] LEDGERGATE_{name.upper()}__URL={url}")
    if webhook_url and "billing" in ports:
        console.print(f"billing events are signed and sent to {webhook_url}")
    if crm_webhook_url and "crm" in ports:
        console.print(f"CRM events are signed and sent to {crm_webhook_url}")
    asyncio.run(
        serve_sandboxes(
            ports,
            host=host,
            webhook_url=webhook_url,
            webhook_secret=settings.billing.webhook_secret.get_secret_value(),
            crm_webhook_url=crm_webhook_url,
            crm_webhook_secret=settings.crm.webhook_secret.get_secret_value(),
        )
    )


@app.command()
def openapi() -> None:
    """Print the gateway's OpenAPI document."""
    from app.main import create_app

    typer.echo(json.dumps(create_app().openapi(), indent=2, sort_keys=True))


@app.command()
def worker(
    interval: Annotated[
        float | None,
        typer.Option(help="Seconds between passes when idle [default: from settings, 5]."),
    ] = None,
    once: Annotated[bool, typer.Option(help="One pass of every kind of work, then exit.")] = False,
) -> None:
    """The background worker: drains the webhook inbox, retries due runs, purges old keys
    and usage, relays events, delivers outbound webhooks, and runs the schedules (daily
    reconciliation, monthly settlement, suspensions after dunning's grace).

    Several workers (and replicas) cooperate: each claims work with FOR UPDATE SKIP LOCKED.
    """
    settings = get_settings()
    configure_logging(settings.log_level)
    _refuse_private_sandboxes(settings, "worker")

    async def run() -> None:
        async with runtime(settings) as running:
            work = BackgroundWork(running.context)
            if once:
                try:
                    console.print(str(await work.run_once()))
                finally:
                    await work.aclose()
                return
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signal_number in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signal_number, stop.set)
            every = interval or settings.worker_interval_seconds
            console.print(f"[bold]background worker[/] passing every {every} s when idle")
            served = serve_worker_metrics(settings)
            try:
                await work.run_forever(interval=every, stop=stop)
            finally:
                if served is not None:
                    served.shutdown()

    asyncio.run(run())


exceptions_app = typer.Typer(help="The exception queue: runs waiting for a retry or a person.")
app.add_typer(exceptions_app, name="exceptions")


@exceptions_app.command("list")
def exceptions_list(
    workflow: Annotated[str | None, typer.Option(help="Only this workflow.")] = None,
    error_class: Annotated[
        str | None, typer.Option("--class", help="transient, business, ...")
    ] = None,
    output: OutputOption = OutputFormat.TABLE,
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

    now = utcnow()
    queued: list[dict[str, Any]] = [
        {
            "run_id": run.id,
            "workflow": run.workflow,
            "subject_id": run.subject_id,
            "status": run.status,
            "error_class": run.error_class,
            "created_at": run.created_at.isoformat(),
            "age_seconds": int((now - run.created_at).total_seconds()),
            "attempts": run.attempts,
            "error_detail": run.error_detail,
        }
        for run in in_session(work)
    ]
    if output is OutputFormat.JSON:
        print_json(queued)
        return
    rows = table("run", "workflow", "subject", "status", "class", "age", "attempts", "error")
    for run in queued:
        rows.add_row(
            run["run_id"],
            run["workflow"],
            run["subject_id"],
            run["status"],
            run["error_class"] or "",
            f"{run['age_seconds']}s",
            str(run["attempts"]),
            run["error_detail"] or "",
        )
    print_table(rows)


@exceptions_app.command("replay")
def exceptions_replay(
    operator: Operator,
    run_ids: Annotated[list[str] | None, typer.Argument(help="Runs to replay.")] = None,
    all_queued: Annotated[bool, typer.Option("--all", help="Every queued run.")] = False,
) -> None:
    """Replay runs now (a progress bar for many); each ends posted, queued again or failed."""
    settings = get_settings()
    _refuse_private_sandboxes(settings, "exceptions replay")

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
    statements = table(
        "settlement",
        "partner",
        "legal entity",
        "currency",
        "total",
        "prior-period adjustment",
        "status",
        title=f"{result.period}: {result.drawn_up} drawn up",
    )
    for statement in result.settlements:
        statements.add_row(
            statement.id,
            statement.partner_id,
            statement.legal_entity_id,
            statement.currency,
            str(statement.total_commission),
            str(statement.adjustment_total),
            statement.status,
        )
    print_table(statements)
    for legal_entity_id in result.awaiting_period_close:
        console.print(f"[yellow]{legal_entity_id}: waits for its accounting period to close[/]")
    if any(s.status in UNPOSTED for s in result.settlements):
        raise typer.Exit(code=1)


@app.command()
def reconcile(
    period: Annotated[str, typer.Option(help="The month, YYYY-MM.")],
    legal_entity: Annotated[str, typer.Option(help="The legal entity id (le_...).")],
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Compare billing, the gateway and the ERP for a month; exit 1 on any difference.

    The run is kept, like the API's and the schedule's: `GET /ops/v1/reconciliation/runs`.
    """
    settings = get_settings()
    _refuse_private_sandboxes(settings, "reconcile")

    async def run() -> Reconciliation:
        async with runtime(settings) as running:
            return await reconciliation.reconcile(
                running.context, legal_entity_id=legal_entity, period=period, trigger="cli"
            )

    result = asyncio.run(run())
    if output is OutputFormat.JSON:
        print_json(result.model_dump(mode="json"))
        if not result.clean:
            raise typer.Exit(code=1)
        return
    title = f"{legal_entity} {result.period_start}..{result.period_end} (run {result.id})"
    print_table(_totals_table(result.totals, title))
    if result.catalog_totals:
        print_table(_totals_table(result.catalog_totals, "catalog"))
    if result.clean:
        console.print("[green]clean: all sides agree[/]")
        return
    if result.differences:
        print_table(_differences_table(result))
    shown = len(result.differences)
    if shown < result.difference_count:
        console.print(f"{shown} of {result.difference_count} differences shown")
    if result.catalog_differences:
        print_table(_catalog_table(result))
        counts = ", ".join(
            f"{line.object_type} {line.cause}: {line.count}" for line in result.catalog_drift
        )
        console.print(f"catalog drift ({result.catalog_difference_count}): {counts}")
    raise typer.Exit(code=1)


def _totals_table(lines: list[CurrencyTotals], title: str) -> Table:
    """Counts and control totals per document type (or catalog object) and currency."""
    totals = table(
        "type",
        "currency",
        "billing count",
        "billing total",
        "gateway count",
        "gateway total",
        "ERP count",
        "ERP total",
        title=title,
    )
    for line in lines:
        totals.add_row(
            line.document_type,
            line.currency,
            str(line.billing_count),
            str(line.billing_total),
            str(line.gateway_count),
            str(line.gateway_total),
            str(line.erp_count),
            str(line.erp_total),
        )
    return totals


def _differences_table(result: Reconciliation) -> Table:
    differences = table(
        "type", "key", "cause", "currency", "billing", "gateway", "ERP", "ERP number"
    )
    for diff in result.differences:
        differences.add_row(
            diff.document_type,
            diff.key,
            diff.explanation,
            diff.currency,
            _amount(diff.billing_amount),
            _amount(diff.gateway_amount),
            _amount(diff.erp_amount),
            diff.erp_number or "",
        )
    return differences


def _catalog_table(result: Reconciliation) -> Table:
    """Each drifted product or price: what differs, as each side holds it."""
    catalog = table(
        "catalog", "id", "cause", "currency", "billing", "gateway", "ERP", "ERP item", "billing id"
    )
    for diff in result.catalog_differences:
        catalog.add_row(
            diff.object_type,
            diff.gateway_id,
            diff.explanation,
            diff.currency,
            diff.billing_value or _amount(diff.billing_amount),
            diff.gateway_value or _amount(diff.gateway_amount),
            diff.erp_value or _amount(diff.erp_amount),
            diff.erp_item or "",
            diff.billing_id or "",
        )
    return catalog


def _amount(value: int | None) -> str:
    return "" if value is None else str(value)


invoices_app = typer.Typer(
    help="An operator's decisions on invoices: a posting mismatch, a correction."
)
app.add_typer(invoices_app, name="invoices")
Reason = Annotated[str, typer.Option(help="Why, for the record.")]


def _decide(
    action: str,
    invoice_id: str,
    operator: str,
    reason: str,
    work: Callable[[ProcessContext, str], Awaitable[str]],
    *,
    arguments: dict[str, Any] | None = None,
) -> None:
    """Run an operator's decision on an invoice, audited as the operator's."""
    settings = get_settings()

    async def run(correlation_id: str) -> str:
        async with runtime(settings) as running:
            return await work(running.context, correlation_id)

    console.print(
        audited(
            operator,
            f"invoices {action}",
            lambda correlation_id: asyncio.run(run(correlation_id)),
            object_id=invoice_id,
            arguments={"reason": reason, **(arguments or {})},
        )
    )


@invoices_app.command("accept-erp-totals")
def invoices_accept_erp_totals(invoice_id: str, reason: Reason, operator: Operator) -> None:
    """Take the ERP's subtotal, tax and total for a mismatched invoice, which is then posted."""

    async def work(context: ProcessContext, _correlation_id: str) -> str:
        invoice = await mismatch.accept(
            Transaction(context.sessionmaker),
            invoice_id=invoice_id,
            reason=reason,
            operator=operator,
        )
        return f"{invoice.id} {invoice.status}: total {invoice.total} {invoice.currency}"

    _decide("accept-erp-totals", invoice_id, operator, reason, work)


@invoices_app.command("reverse")
def invoices_reverse(invoice_id: str, reason: Reason, operator: Operator) -> None:
    """Cancel a mismatched invoice's ERP document with an ERP credit memo and post it anew."""

    async def work(context: ProcessContext, correlation_id: str) -> str:
        result = await mismatch.PostingReversal(context).reverse(
            invoice_id=invoice_id, reason=reason, operator=operator, correlation_id=correlation_id
        )
        return f"{invoice_id} {result.state}: run {result.run_id}"

    _decide("reverse", invoice_id, operator, reason, work)


CorrectionLines = Annotated[
    list[str] | None,
    typer.Option(
        "--line",
        help="LINE_ID=quantity:N or LINE_ID=amount:MINOR_UNITS, once per line to credit; "
        "without any, all that remains of every line is credited.",
    ),
]


def _correction_line(text: str) -> CorrectionLine:
    line_id, _, credit = text.partition("=")
    kind, _, value = credit.partition(":")
    if kind not in ("quantity", "amount") or not value.isdigit():
        raise typer.BadParameter(f"{text!r} is not LINE_ID=quantity:N or LINE_ID=amount:N")
    try:
        return CorrectionLine.model_validate({"invoice_line_id": line_id, kind: int(value)})
    except ValidationError as error:
        raise typer.BadParameter(f"{text!r}: {error.errors()[0]['msg']}") from error


@invoices_app.command("correct")
def invoices_correct(
    invoice_id: str,
    reason: Reason,
    operator: Operator,
    idempotency_key: Annotated[
        str, typer.Option(help="Makes a repeated command safe: the same key, the same memo.")
    ],
    line: CorrectionLines = None,
) -> None:
    """Correct a posted invoice with a credit memo posted to the ERP against it."""
    _refuse_private_sandboxes(get_settings(), "invoices correct")
    try:
        data = CorrectionCreate(
            reason=reason, lines=[_correction_line(text) for text in line] if line else None
        )
    except ValidationError as error:
        raise typer.BadParameter(error.errors()[0]["msg"]) from error

    async def work(context: ProcessContext, correlation_id: str) -> str:
        requester = Requester(
            client_id=operator,
            correlation_id=correlation_id,
            request_key=f"cli:{operator}:{idempotency_key}",
        )
        memo = await CorrectionWorkflow(context).correct(invoice_id, data, by=requester)
        return (
            f"{memo.id} {memo.status}: {memo.amount} + tax {memo.tax_amount} {memo.currency} "
            f"credited on {invoice_id}"
        )

    _decide("correct", invoice_id, operator, reason, work, arguments={"lines": line or []})


if __name__ == "__main__":
    app()
