"""How `ledgergate` reports a failure: one line with the problem's type, and exit 1.

Every command runs inside `ReportingGroup`, so a domain error, a refused configuration or
an unreachable database prints `error: <what happened> (<problem type URI>)` on stderr,
never a traceback; `ledgergate --traceback ...` shows the whole error instead.
"""

from __future__ import annotations

from typing import Any

import typer
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError
from typer.core import TyperGroup

from app.governance.problems import DatabaseUnavailable
from core.db import database_unavailable
from core.errors import LedgergateError, problem_type
from core.settings import Settings, env_name

CONFIGURATION_INVALID = problem_type("configuration-invalid")
INTERNAL_ERROR = problem_type("internal-error")


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def describe(error: Exception) -> list[str]:
    """The lines that report `error`: the first says what and which problem type."""
    if isinstance(error, LedgergateError):
        return [f"error: {_one_line(error.detail)} ({error.type_uri()})"]
    if isinstance(error, ValidationError) and error.title == Settings.__name__:
        lines = [f"error: the configuration is refused ({CONFIGURATION_INVALID})"]
        for problem in error.errors(include_url=False, include_input=False):
            message = problem["msg"].removeprefix("Value error, ")
            location = [str(part) for part in problem["loc"]]
            if location:
                message = f"{env_name(*location)}: {message}"
            lines += [f"  {line.strip()}" for line in message.splitlines()]
        return lines
    if database_unavailable(error):
        return [f"error: the database cannot be reached now ({DatabaseUnavailable.type_uri()})"]
    if isinstance(error, DBAPIError):
        cause = error.orig if error.orig is not None else error
        reason = _one_line(str(cause).splitlines()[0] if str(cause) else type(cause).__name__)
        return [f"error: the database refused: {reason} ({INTERNAL_ERROR})"]
    return [
        f"error: unexpected {type(error).__name__}: {_one_line(error)} ({INTERNAL_ERROR}); "
        "run again with --traceback for the details"
    ]


class ReportingGroup(TyperGroup):
    """The command group whose failures are reported by `describe`, with exit status 1."""

    # `Any`: the context class is typer's private copy of click's.
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):  # exits and usage errors
            raise
        except Exception as error:
            if ctx.params.get("traceback"):
                raise
            for line in describe(error):
                typer.echo(line, err=True)
            raise typer.Exit(code=1) from None
