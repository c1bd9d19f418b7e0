"""What the `ledgergate` command prints: one-line errors, tables that fit, JSON listings."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from rich.console import Console
from typer.core import TyperGroup
from typer.testing import CliRunner

from app.cli import app
from app.cli_output import print_table, table
from core.settings import get_settings

runner = CliRunner(env={"COLUMNS": "80"})
PROBLEMS = "https://ledgergate.dev/problems/"


@pytest.fixture
def sqlite_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    database = tmp_path / "cli.db"
    monkeypatch.setenv("LEDGERGATE_DATABASE_URL", f"sqlite+aiosqlite:///{database}")
    get_settings.cache_clear()
    yield database
    get_settings.cache_clear()


def one_line_error(output: str) -> str:
    lines = output.strip().splitlines()
    assert "Traceback" not in output
    assert len(lines) == 1, output
    assert lines[0].startswith("error: "), output
    return lines[0]


def test_a_domain_error_is_one_line_with_its_problem_type(sqlite_env: Path) -> None:
    result = runner.invoke(app, ["clients", "rotate", "cli_nobody", "--operator", "ana"])

    assert result.exit_code == 1
    line = one_line_error(result.output)
    assert "no API client cli_nobody" in line
    assert f"{PROBLEMS}not-found" in line


def test_an_unreachable_database_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGERGATE_DATABASE_URL", "postgresql+asyncpg://lg@127.0.0.1:9/lg")
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["clients", "list"])
    finally:
        get_settings.cache_clear()

    assert result.exit_code == 1
    assert f"{PROBLEMS}database-unavailable" in one_line_error(result.output)


def test_a_refused_configuration_lists_every_problem_and_no_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEDGERGATE_ENVIRONMENT", "production")
    monkeypatch.setenv("LEDGERGATE_BILLING__API_KEY", "sk_live_do_not_print")
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["migrate"])
    finally:
        get_settings.cache_clear()

    assert result.exit_code == 1
    assert "Traceback" not in result.output
    first, *problems = result.output.strip().splitlines()
    assert first.startswith("error: ")
    assert f"{PROBLEMS}configuration-invalid" in first
    assert any("LEDGERGATE_DATABASE_URL" in line for line in problems)
    assert any("LEDGERGATE_ERP__URL" in line for line in problems)
    assert "sk_live_do_not_print" not in result.output


def test_an_invalid_setting_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGERGATE_ERP__RETRY_ATTEMPTS", "many")
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["migrate"])
    finally:
        get_settings.cache_clear()

    assert result.exit_code == 1
    assert "LEDGERGATE_ERP__RETRY_ATTEMPTS" in result.output
    assert "Traceback" not in result.output


def test_traceback_shows_the_whole_error_when_asked(sqlite_env: Path) -> None:
    result = runner.invoke(
        app, ["--traceback", "clients", "rotate", "cli_nobody", "--operator", "ana"]
    )

    assert result.exit_code == 1
    assert result.exception is not None
    assert "no API client" in str(result.exception)


def test_clients_list_as_json(sqlite_env: Path) -> None:
    created = runner.invoke(
        app, ["clients", "create", "--name", "crm", "--scope", "invoices:read", "--operator", "ana"]
    )
    assert created.exit_code == 0, created.output

    result = runner.invoke(app, ["clients", "list", "--output", "json"])

    assert result.exit_code == 0, result.output
    [client] = json.loads(result.stdout)
    assert client["client_id"].startswith("cli_")
    assert client["name"] == "crm"
    assert client["scopes"] == ["invoices:read"]
    assert client["status"] == "active"


def test_exceptions_list_as_json(sqlite_env: Path) -> None:
    result = runner.invoke(app, ["exceptions", "list", "--output", "json"])

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == []


def test_a_table_is_not_cut_when_piped(sqlite_env: Path) -> None:
    scopes = ["invoices:read", "invoices:post", "credit_memos:read", "settlements:read"]
    created = runner.invoke(
        app,
        [
            "clients",
            "create",
            "--name",
            "a client with a long descriptive name",
            "--operator",
            "ana",
        ]
        + [arg for scope in scopes for arg in ("--scope", scope)],
    )
    client_id = created.output.split("client_id")[1].split()[0]

    result = runner.invoke(app, ["clients", "list"])

    assert result.exit_code == 0, result.output
    assert "…" not in result.output
    assert client_id in result.output
    assert "a client with a long descriptive name" in result.output
    assert " ".join(sorted(scopes)) in result.output


def test_a_table_wraps_to_fit_a_narrow_terminal() -> None:
    rows = table("run", "error")
    detail = "the ERP refused the posting: " + "period closed " * 12
    rows.add_row("run_01jd" + "0" * 22, detail)
    console = Console(width=60, force_terminal=True, record=True)

    print_table(rows, console=console)

    text = console.export_text()
    assert "…" not in text
    assert all(len(line) <= 60 for line in text.splitlines())
    assert "".join(text.split()).count("periodclosed") == 12


def commands(group: TyperGroup, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for name, command in group.commands.items():
        yield f"{prefix}{name}", command
        if isinstance(command, TyperGroup):
            yield from commands(command, f"{prefix}{name} ")


def test_every_listing_command_offers_json() -> None:
    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    listing = [
        name for name, command in commands(root) if name.endswith("list") or name == "reconcile"
    ]
    assert listing
    for name, command in commands(root):
        if name in listing:
            options = {opt for param in command.params for opt in param.opts}
            assert "--output" in options, f"`ledgergate {name}` has no --output json"


def test_help_lists_every_command_with_a_one_line_purpose() -> None:
    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["--help"])

    assert result.exit_code == 0
    for name, command in root.commands.items():
        purpose = command.get_short_help_str(limit=200)
        assert purpose, f"`ledgergate {name}` has no purpose"
        assert f"{name} " in result.output
        assert purpose[:40] in result.output
    for name, command in commands(root):
        assert command.get_short_help_str(limit=200), f"`ledgergate {name}` has no purpose"
