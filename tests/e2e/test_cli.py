"""The `ledgergate` command."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect
from typer.testing import CliRunner

from app.cli import app
from app.core.settings import get_settings

runner = CliRunner()


@pytest.fixture
def sqlite_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    database = tmp_path / "cli.db"
    monkeypatch.setenv("LEDGERGATE_DATABASE_URL", f"sqlite+aiosqlite:///{database}")
    get_settings.cache_clear()
    yield database
    get_settings.cache_clear()


def test_migrate_creates_the_schema(sqlite_env: Path) -> None:
    result = runner.invoke(app, ["migrate"])
    assert result.exit_code == 0, result.output
    tables = set(inspect(create_engine(f"sqlite:///{sqlite_env}")).get_table_names())
    assert {"invoices", "workflow_runs", "idempotency_keys", "alembic_version"} <= tables


def test_openapi_prints_the_served_document(sqlite_env: Path) -> None:
    result = runner.invoke(app, ["openapi"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert "/v1/invoices/{invoice_id}/postings" in document["paths"]
    assert "Problem" in document["components"]["schemas"]
