"""`ledgergate events tail`: the canonical events as they are recorded, one JSON per line."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer

from core.db import create_engine, create_sessionmaker
from core.models.event_outbox import EventOutboxRow
from core.settings import get_settings
from events.envelope import CloudEvent
from events.query import EventFilter, following, last_sequence, newest

events_app = typer.Typer(help="Canonical events recorded in the outbox.")

FOLLOW_BATCH = 500


def _line(row: EventOutboxRow) -> str:
    """The envelope as one line of JSON (the CloudEvent as a sink receives it)."""
    return CloudEvent.model_validate(row.envelope).model_dump_json()


@events_app.command("tail")
def events_tail(
    event_type: Annotated[
        str | None,
        typer.Option("--type", help="Only this type (com.ledgergate.invoice.posted.v1)."),
    ] = None,
    subject: Annotated[str | None, typer.Option(help="Only events about this object id.")] = None,
    lines: Annotated[
        int, typer.Option("--lines", "-n", min=0, max=1000, help="Recorded events shown first.")
    ] = 10,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Go on printing new events until Ctrl-C.")
    ] = False,
    interval: Annotated[
        float, typer.Option(min=0.1, help="Seconds between looks for new events (--follow).")
    ] = 1.0,
) -> None:
    """Print the last recorded events, oldest first, then (--follow) new ones as they come."""
    filters = EventFilter(type=event_type, subject=subject)
    settings = get_settings()

    async def run() -> None:
        engine = create_engine(settings.database_url)
        sessionmaker = create_sessionmaker(engine)
        stop = asyncio.Event()
        if follow:
            loop = asyncio.get_running_loop()
            for signal_number in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signal_number, stop.set)
        try:
            async with sessionmaker() as session:
                last = list(reversed(await newest(session, filters, before=None, limit=lines)))
                after = last[-1].sequence if last else await last_sequence(session)
            for row in last:
                typer.echo(_line(row))
            while follow and not stop.is_set():
                async with sessionmaker() as session:
                    rows = await following(session, filters, after=after, limit=FOLLOW_BATCH)
                for row in rows:
                    typer.echo(_line(row))
                    after = row.sequence
                if len(rows) < FOLLOW_BATCH:
                    try:
                        await asyncio.wait_for(stop.wait(), timeout=interval)
                    except TimeoutError:
                        pass
        finally:
            await engine.dispose()

    asyncio.run(run())
