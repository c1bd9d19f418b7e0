"""`ledgergate usage import FILE`: a back-fill of usage events, 1,000 per batch, through the
same ingestion as `POST /v1/usage-events`, under the API client the events belong to (so
a back-fill and live traffic share one de-duplication)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.cli_session import with_database
from app.operator import Operator, audited
from app.usage_file import Record, count_lines, read_records
from core.models.api_client import ApiClientRow
from core.settings import Settings
from process_apis.usage.schemas import MAX_BATCH, UsageBatchResult
from process_apis.usage.service import UsageIngestion

usage_app = typer.Typer(help="Metered usage: back-fills from CSV or JSON lines.")
console = Console(stderr=True)


def _batches(records: Iterable[Record]) -> Iterator[tuple[Record, ...]]:
    iterator = iter(records)
    while chunk := tuple(islice(iterator, MAX_BATCH)):
        yield chunk


def _report(records: tuple[Record, ...], answer: UsageBatchResult | None) -> Counter[str]:
    """Counts of the batch's outcomes; a one-line error for each rejected record."""
    counts: Counter[str] = Counter()
    readable = [record for record in records if record.event is not None]
    for record in records:
        if record.event is None:
            counts["rejected"] += 1
            console.print(f"line {record.line}: {record.error}", markup=False)
    for result in answer.results if answer else []:
        counts[result.outcome] += 1
        if result.problem is not None:
            line = readable[result.index].line
            where = [e.pointer for e in result.problem.errors or [] if e.pointer]
            pointer = where[0].replace(f"#/events/{result.index}", "", 1) if where else ""
            console.print(
                f"line {line} ({result.id}): {result.problem.detail} "
                f"[{result.problem.type.rsplit('/', 1)[-1]}{' at ' + pointer if pointer else ''}]",
                markup=False,
            )
    return counts


async def _import(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    path: Path,
    client: str,
    correlation_id: str,
) -> Counter[str]:
    async with sessionmaker() as session:
        if await session.get(ApiClientRow, client) is None:
            raise typer.BadParameter(f"no API client {client}", param_hint="--client")
    ingestion = UsageIngestion(sessionmaker, settings.usage)
    totals: Counter[str] = Counter()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(f"importing {path.name}", total=count_lines(path))
        for chunk in _batches(read_records(path)):
            events = [record.event for record in chunk if record.event is not None]
            answer = (
                await ingestion.ingest(client, events, correlation_id=correlation_id)
                if events
                else None
            )
            totals.update(_report(chunk, answer))
            progress.update(task, completed=chunk[-1].line)
    return totals


@usage_app.command("import")
def import_usage(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    client: Annotated[str, typer.Option("--client", help="The API client whose events these are.")],
    operator: Operator,
) -> None:
    """Import usage events; prints accepted, duplicate and rejected counts (exit 1 when
    any was rejected). Running it again is safe: what was stored is a duplicate."""

    def work(correlation_id: str) -> Counter[str]:
        return with_database(
            lambda settings, sessionmaker: _import(
                settings, sessionmaker, path=file, client=client, correlation_id=correlation_id
            )
        )

    totals = audited(operator, f"usage import {file.name}", work, arguments={"client": client})
    typer.echo(
        f"accepted {totals['accepted']} · duplicate {totals['duplicate']} · "
        f"rejected {totals['rejected']}"
    )
    if totals["rejected"]:
        raise typer.Exit(1)
