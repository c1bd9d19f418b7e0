"""`ledgergate operators`: create (argon2 hash, audited) and disable console operators."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from app.cli import app
from app.experience.console.passwords import verify_password
from core.db import create_engine, create_sessionmaker
from core.models.audit_event import AuditEventRow
from core.models.operator import OperatorRow
from core.settings import get_settings

runner = CliRunner(env={"COLUMNS": "200"})
PASSWORD = "a long enough secret"


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("LEDGERGATE_DATABASE_URL", url)
    monkeypatch.setenv("LEDGERGATE_OPERATOR", "admin")
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def rows(url: str) -> tuple[list[OperatorRow], list[AuditEventRow]]:
    async def read() -> tuple[list[OperatorRow], list[AuditEventRow]]:
        engine = create_engine(url)
        async with create_sessionmaker(engine)() as session:
            operators = list(await session.scalars(select(OperatorRow)))
            audit = list(await session.scalars(select(AuditEventRow)))
        await engine.dispose()
        return operators, audit

    return asyncio.run(read())


def test_an_operator_is_created_with_a_hashed_password_and_audited(database: str) -> None:
    created = runner.invoke(
        app,
        ["operators", "create", "ana", "--role", "operator", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert created.exit_code == 0, created.output
    [operator], audit = rows(database)
    assert (operator.name, operator.role) == ("ana", "operator")
    assert operator.password_hash.startswith("$argon2id$")
    assert PASSWORD not in operator.password_hash
    assert verify_password(operator.password_hash, PASSWORD)
    assert not verify_password(operator.password_hash, PASSWORD + "!")
    assert [(a.client_id, a.action, a.object_id) for a in audit] == [
        ("admin", "CLI operators create", "ana")
    ]

    again = runner.invoke(
        app,
        ["operators", "create", "ana", "--role", "viewer", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert again.exit_code != 0
    assert "operator-exists" in again.output
    disabled = runner.invoke(app, ["operators", "disable", "ana"])
    assert disabled.exit_code == 0, disabled.output
    assert rows(database)[0][0].disabled


def test_an_unknown_role_or_a_short_password_is_refused(database: str) -> None:
    unknown = runner.invoke(
        app,
        ["operators", "create", "ana", "--role", "root", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert unknown.exit_code == 2
    assert "viewer, operator" in unknown.output
    short = runner.invoke(
        app,
        ["operators", "create", "ana", "--role", "viewer", "--password-stdin"],
        input="short\n",
    )
    assert short.exit_code != 0
    assert "operator-password-too-short" in short.output
    assert rows(database)[0] == []
