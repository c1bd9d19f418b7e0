"""`ledgergate webhooks`: endpoints, deliveries, resend and recover for operators.

An operator reaches every endpoint, a platform client's or a partner's. Resend and
recover change something, so they need `--operator` and are audited.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

import typer
from pydantic import AwareDatetime, TypeAdapter, ValidationError
from rich.console import Console

from app.cli_output import OutputFormat, OutputOption, print_json, print_table, table
from app.cli_session import with_database
from app.operator import Operator, audited
from core.models.webhook_message import MessageStatus
from core.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from events.webhooks import service
from events.webhooks.context import WebhookContext
from events.webhooks.router import attempt_view, endpoint_view, message_view

T = TypeVar("T")

webhooks_app = typer.Typer(help="Outbound webhooks: endpoints, deliveries, resend and recover.")
console = Console(stderr=True)

EndpointArgument = Annotated[str, typer.Argument(help="The endpoint id (ep_...).")]
Limit = Annotated[int, typer.Option(min=1, max=MAX_PAGE_SIZE, help="Rows per page.")]
CursorOption = Annotated[str | None, typer.Option(help="The next_cursor a previous page printed.")]


def _with_webhooks(work: Callable[[WebhookContext], Awaitable[T]]) -> T:
    """Run `work` against the configured database, migrated."""
    return with_database(
        lambda settings, sessionmaker: work(WebhookContext.build(settings, sessionmaker))
    )


def _instant(value: str) -> datetime:
    try:
        return TypeAdapter(AwareDatetime).validate_python(value)
    except ValidationError:
        raise typer.BadParameter(
            "an ISO 8601 instant with its offset, e.g. 2026-12-01T00:00:00Z"
        ) from None


def _print(
    rows: list[dict[str, Any]], columns: tuple[str, ...], after: str | None, output: OutputFormat
) -> None:
    if output is OutputFormat.JSON:
        print_json({"items": rows, "next_cursor": after})
        return
    printed = table(*columns)
    for row in rows:
        printed.add_row(*("" if row[c] is None else str(row[c]) for c in columns))
    print_table(printed)
    if after:
        console.print(f"next page: --cursor {after}")


@webhooks_app.command("deliveries")
def deliveries(
    endpoint_id: EndpointArgument,
    status: Annotated[
        MessageStatus | None, typer.Option(help="Only messages in this status.")
    ] = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: CursorOption = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """An endpoint's messages, newest first, with their status and attempts."""

    async def work(context: WebhookContext) -> tuple[list[dict[str, Any]], str | None]:
        async with context.sessionmaker() as session:
            endpoint = await service.find_endpoint(session, endpoint_id, None)
            rows, after = await service.list_messages(
                session, endpoint, status=status, cursor=cursor, limit=limit
            )
        return [message_view(row).model_dump(mode="json") for row in rows], after

    rows, after = _with_webhooks(work)
    columns = (
        "id",
        "event_id",
        "event_type",
        "status",
        "attempts",
        "next_attempt_at",
        "created_at",
    )
    _print(rows, columns, after, output)


@webhooks_app.command("attempts")
def attempts(
    endpoint_id: EndpointArgument,
    message_id: Annotated[str, typer.Argument(help="The message id (msg_...).")],
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: CursorOption = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """A message's delivery log, newest first."""

    async def work(context: WebhookContext) -> tuple[list[dict[str, Any]], str | None]:
        async with context.sessionmaker() as session:
            endpoint = await service.find_endpoint(session, endpoint_id, None)
            message = await service.find_message(session, endpoint, message_id)
            rows, after = await service.list_attempts(session, message, cursor=cursor, limit=limit)
        return [attempt_view(row).model_dump(mode="json") for row in rows], after

    rows, after = _with_webhooks(work)
    columns = ("id", "attempted_at", "outcome", "status_code", "duration_ms", "error")
    _print(rows, columns, after, output)


@webhooks_app.command("show")
def show(endpoint_id: EndpointArgument) -> None:
    """One endpoint, with its health, as JSON."""

    async def work(context: WebhookContext) -> dict[str, Any]:
        async with context.sessionmaker() as session:
            endpoint = await service.find_endpoint(session, endpoint_id, None)
        return endpoint_view(endpoint).model_dump(mode="json")

    print_json(_with_webhooks(work))


@webhooks_app.command("resend")
def resend(
    endpoint_id: EndpointArgument,
    message_id: Annotated[str, typer.Argument(help="The message id (msg_...).")],
    operator: Operator,
) -> None:
    """Deliver one message again, delivered before or not."""

    async def work(context: WebhookContext) -> None:
        async with context.sessionmaker.begin() as session:
            endpoint = await service.find_endpoint(session, endpoint_id, None)
            message = await service.find_message(session, endpoint, message_id)
            service.resend(endpoint, message, context.clock())

    audited(
        operator,
        "webhooks resend",
        lambda _: _with_webhooks(work),
        object_id=message_id,
        arguments={"endpoint": endpoint_id, "message": message_id},
    )
    console.print(f"[green]{message_id} is due again[/]")


@webhooks_app.command("recover")
def recover(
    endpoint_id: EndpointArgument,
    since: Annotated[str, typer.Option(help="ISO 8601 instant: resend every message since.")],
    operator: Operator,
) -> None:
    """Deliver again every message of an endpoint made at or after `--since`."""
    instant = _instant(since)

    async def work(context: WebhookContext) -> int:
        async with context.sessionmaker.begin() as session:
            endpoint = await service.find_endpoint(session, endpoint_id, None)
            return await service.recover(session, endpoint, instant, context.clock())

    count = audited(
        operator,
        "webhooks recover",
        lambda _: _with_webhooks(work),
        object_id=endpoint_id,
        arguments={"endpoint": endpoint_id, "since": instant.isoformat()},
    )
    console.print(
        f"[green]{count} message{'s' if count != 1 else ''} of {endpoint_id} due again[/]"
    )
