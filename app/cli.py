"""The `ledgergate` command: serve, migrate, run a sandbox, print the OpenAPI document."""

from __future__ import annotations

import asyncio
import json
from enum import StrEnum
from typing import Annotated

import typer
import uvicorn
from rich.console import Console

from app.core.db import create_engine
from app.core.migrate import upgrade
from app.core.settings import get_settings
from app.governance.logging import configure_logging

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


@app.command()
def migrate() -> None:
    """Apply every pending Alembic migration to the configured database."""
    settings = get_settings()

    async def run() -> None:
        engine = create_engine(settings.database_url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())
    console.print("[green]database is at the latest revision[/]")


class Sandbox(StrEnum):
    ERP = "erp"
    BILLING = "billing"


@app.command()
def sandbox(
    backend: Annotated[Sandbox, typer.Argument(help="Which backend to impersonate.")],
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8100,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
) -> None:
    """Run a built-in backend sandbox as its own HTTP server."""
    from system_apis.sandboxes import business_central, stripe

    sandbox_app = business_central.create_app() if backend == Sandbox.ERP else stripe.create_app()
    console.print(f"[bold]{backend.value} sandbox[/] listening on http://{host}:{port}")
    uvicorn.run(sandbox_app, host=host, port=port, log_level="warning")


@app.command()
def openapi() -> None:
    """Print the gateway's OpenAPI document."""
    from app.main import create_app

    typer.echo(json.dumps(create_app().openapi(), indent=2, sort_keys=True))


if __name__ == "__main__":
    app()
