"""The `ledgergate` command: serve, migrate, run a sandbox, print the OpenAPI document."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, TypeVar

import typer
import uvicorn
from rich.console import Console
from rich.table import Column, Table
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import create_engine, create_sessionmaker
from app.core.migrate import upgrade
from app.core.settings import get_settings
from app.governance.auth import clients
from app.governance.auth.keys import rotate_keys
from app.governance.logging import configure_logging
from app.seed import DEMO_CLIENTS

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
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        access_log=False,
        proxy_headers=False,
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
    partner: Annotated[str | None, typer.Option(help="Bind the client to this partner id.")] = None,
    tier: Annotated[str, typer.Option(help="Rate-limit tier.")] = "standard",
) -> None:
    """Create a client and print its secret once (only a hash is stored)."""

    async def work(session: AsyncSession) -> tuple[str, str]:
        row, secret = await clients.create_client(
            session, name=name, scopes=scope, partner_id=partner, tier=tier
        )
        return row.id, secret

    client_id, secret = _in_session(work)
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
    grace_minutes: Annotated[int, typer.Option(help="How long the old secret still works.")] = 60,
) -> None:
    """Issue a new secret; the previous one keeps working for the grace period."""

    async def work(session: AsyncSession) -> str:
        return await clients.rotate_secret(
            session, client_id, grace=timedelta(minutes=grace_minutes)
        )

    console.print(f"client_secret [bold]{_in_session(work)}[/]")


@clients_app.command("disable")
def clients_disable(client_id: str) -> None:
    """Refuse the client new tokens and, within seconds, its live ones."""

    async def work(session: AsyncSession) -> None:
        await clients.disable_client(session, client_id)

    _in_session(work)
    console.print(f"[red]{client_id} disabled[/]")


keys_app = typer.Typer(help="Manage token signing keys.")
app.add_typer(keys_app, name="keys")


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Start signing with a new key; the old one verifies until its tokens expire."""
    auth = get_settings().auth

    async def work(session: AsyncSession) -> str:
        return await rotate_keys(session, algorithm=auth.algorithm, token_ttl=auth.token_ttl)

    console.print(f"new signing key [bold]{_in_session(work)}[/]")


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

    from system_apis.sandboxes import business_central, crm, stripe, support

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


if __name__ == "__main__":
    app()
