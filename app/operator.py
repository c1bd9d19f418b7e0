"""The named operator behind a command-line action, and the audit row the action leaves.

A command that changes something (`clients create`, `exceptions discard`, `settle`, ...)
requires `--operator` (or `LEDGERGATE_OPERATOR`) and is appended to the audit trail
like an API call: the operator in `client_id`, `CLI <command>` as the action, the object,
the outcome and status, a correlation id (also given to the runs the command starts)
and a SHA-256 of the command's arguments.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import uuid
from collections.abc import Callable
from typing import Annotated, TypeVar

import typer

from app.governance.audit import append, outcome_of
from core.db import create_engine, create_sessionmaker
from core.errors import LedgergateError
from core.ids import new_id
from core.models.audit_event import AuditEventRow
from core.settings import get_settings

T = TypeVar("T")

OPERATOR_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,79}$")


def _named(value: str) -> str:
    if not OPERATOR_PATTERN.match(value):
        raise typer.BadParameter(
            "an operator is named by letters, digits and ._@+- (up to 80 characters)"
        )
    return value


Operator = Annotated[
    str,
    typer.Option(
        "--operator",
        envvar="LEDGERGATE_OPERATOR",
        callback=_named,
        help="Who is acting: recorded in the audit trail and on what the command changes.",
    ),
]


def new_correlation_id() -> str:
    return f"cli-{uuid.uuid4()}"


def audited(
    operator: str,
    action: str,
    work: Callable[[str], T],
    *,
    object_id: str | None = None,
    arguments: object = None,
) -> T:
    """Run `work(correlation_id)` and append its audit row, whatever its outcome."""
    correlation_id = new_correlation_id()
    status = 500
    try:
        result = work(correlation_id)
        status = 200
        return result
    except LedgergateError as error:
        status = error.status_code
        raise
    except typer.Exit as exit_:
        status = 200 if exit_.exit_code == 0 else 422
        raise
    finally:
        digest = hashlib.sha256(
            json.dumps(arguments, sort_keys=True, default=str).encode()
        ).hexdigest()
        event = AuditEventRow(
            id=new_id("audit_event"),
            client_id=operator,
            partner_id=None,
            action=f"CLI {action}"[:120],
            object_id=object_id[:80] if object_id else None,
            outcome=outcome_of(status),
            status_code=status,
            correlation_id=correlation_id,
            request_hash=digest,
            source_ip=None,
        )
        asyncio.run(_append(event))


async def _append(event: AuditEventRow) -> None:
    engine = create_engine(get_settings().database_url)
    try:
        await append(create_sessionmaker(engine), event)
    finally:
        await engine.dispose()
