"""`ledgergate operators`: the people who sign in to the console with a password.

Used in the embedded default; with an identity provider configured
(`LEDGERGATE_CONSOLE__OIDC_ISSUER`) people sign in there instead.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.cli_session import in_session
from app.experience.console.operators import create_operator
from app.experience.console.roles import ROLES
from app.operator import OPERATOR_PATTERN, Operator, audited
from core.errors import NotFound
from core.models.operator import OperatorRow

operators_app = typer.Typer(help="Console operators: create and disable them.")
console = Console(stderr=True)


def _name(value: str) -> str:
    if not OPERATOR_PATTERN.match(value):
        raise typer.BadParameter("letters, digits and ._@+- (up to 80 characters)")
    return value


def _role(value: str) -> str:
    if value not in ROLES:
        raise typer.BadParameter(f"one of {', '.join(ROLES)}")
    return value


@operators_app.command("create")
def operators_create(
    name: Annotated[str, typer.Argument(callback=_name, help="The operator's sign-in name.")],
    role: Annotated[str, typer.Option(callback=_role, help=f"One of {', '.join(ROLES)}.")],
    operator: Operator,
    password_stdin: Annotated[
        bool, typer.Option(help="Read the password from standard input, not a prompt.")
    ] = False,
) -> None:
    """Create a console operator; only an argon2 hash of the password is stored."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)

    async def work(session: AsyncSession) -> str:
        row = await create_operator(session, name=name, role=role, password=password)
        return row.id

    operator_id = audited(
        operator,
        "operators create",
        lambda _: in_session(work),
        object_id=name,
        arguments={"name": name, "role": role},
    )
    console.print(f"operator [bold]{name}[/] ({role}) created: {operator_id}")


@operators_app.command("disable")
def operators_disable(
    name: Annotated[str, typer.Argument(callback=_name)], operator: Operator
) -> None:
    """Disable an operator: their console sessions end at their next request."""

    async def work(session: AsyncSession) -> None:
        row = await session.scalar(select(OperatorRow).where(OperatorRow.name == name))
        if row is None:
            raise NotFound(f"no operator {name}")
        row.disabled = True

    audited(operator, "operators disable", lambda _: in_session(work), object_id=name)
    console.print(f"[red]operator {name} disabled[/]")
