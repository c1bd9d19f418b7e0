"""The `ledgergate` command."""

import asyncio
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, select
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from app.cli import app
from app.seed import demo_id, seed_demo_estate
from core.canonical.documents import InvoiceStatus
from core.db import create_sessionmaker
from core.errors import NotFound
from core.models.audit_event import AuditEventRow
from core.models.invoice import InvoiceRow
from core.models.workflow_run import RunStatus, WorkflowRunRow
from core.settings import get_settings

runner = CliRunner(env={"COLUMNS": "200"})


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


def test_clients_can_be_created_listed_rotated_and_disabled(sqlite_env: Path) -> None:
    created = runner.invoke(
        app,
        ["clients", "create", "--name", "crm", "--scope", "invoices:read", "--scope", "runs:read"],
    )
    assert created.exit_code == 0, created.output
    client_id = created.output.split("client_id")[1].split()[0]
    assert "lgs_" in created.output
    listed = runner.invoke(app, ["clients", "list"])
    assert client_id in listed.output
    rotated = runner.invoke(app, ["clients", "rotate", client_id, "--grace-minutes", "5"])
    assert rotated.exit_code == 0
    assert "lgs_" in rotated.output
    disabled = runner.invoke(app, ["clients", "disable", client_id])
    assert disabled.exit_code == 0
    assert "disabled" in runner.invoke(app, ["clients", "list"]).output


def test_unknown_scopes_are_refused(sqlite_env: Path) -> None:
    result = runner.invoke(app, ["clients", "create", "--name", "x", "--scope", "root"])
    assert result.exit_code != 0


def test_keys_rotate_adds_a_signing_key(sqlite_env: Path) -> None:
    first = runner.invoke(app, ["keys", "rotate"])
    second = runner.invoke(app, ["keys", "rotate"])
    assert first.exit_code == second.exit_code == 0
    assert first.output != second.output


def test_the_worker_drains_once_and_the_queue_lists(sqlite_env: Path) -> None:
    drained = runner.invoke(app, ["worker", "--once"])
    assert drained.exit_code == 0, drained.output
    assert "claimed 0" in drained.output
    listed = runner.invoke(app, ["exceptions", "list"])
    assert listed.exit_code == 0, listed.output
    assert "workflow" in listed.output
    replayed = runner.invoke(app, ["exceptions", "replay", "run_01jd0000000000000000000000"])
    assert replayed.exit_code == 0, replayed.output
    assert "skipped (not-found)" in replayed.output


def test_reconcile_refuses_an_unknown_legal_entity(sqlite_env: Path) -> None:
    result = runner.invoke(
        app, ["reconcile", "--period", "2026-11", "--legal-entity", "le_00000000000000000000000001"]
    )
    assert result.exit_code == 1
    assert isinstance(result.exception, NotFound)


def test_reconcile_exits_zero_when_both_sides_agree(sqlite_env: Path) -> None:
    assert runner.invoke(app, ["migrate"]).exit_code == 0

    async def seed() -> None:
        engine = create_async_engine(f"sqlite+aiosqlite:///{sqlite_env}")
        await seed_demo_estate(create_sessionmaker(engine))
        await engine.dispose()

    asyncio.run(seed())
    result = runner.invoke(
        app, ["reconcile", "--period", "2026-11", "--legal-entity", demo_id("legal_entity", 1)]
    )
    assert result.exit_code == 0, result.output
    assert "clean: both sides agree" in result.output
    assert "┃ type ┃ currency ┃" in result.output  # a line per document type and currency


def test_an_operator_accepts_the_erp_totals_from_the_cli_and_is_audited(sqlite_env: Path) -> None:
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    invoice_id = "inv_01jd0000000000000000000001"

    async def seed_mismatch() -> None:
        engine = create_async_engine(f"sqlite+aiosqlite:///{sqlite_env}")
        sessionmaker = create_sessionmaker(engine)
        await seed_demo_estate(sessionmaker)
        async with sessionmaker.begin() as session:
            session.add(
                InvoiceRow(
                    id=invoice_id,
                    customer_id=demo_id("customer", 1),
                    legal_entity_id=demo_id("legal_entity", 1),
                    currency="USD",
                    invoice_date=date(2026, 11, 2),
                    due_date=date(2026, 12, 2),
                    subtotal=1000,
                    tax_total=89,
                    total=1089,
                    status=InvoiceStatus.POSTING_MISMATCH,
                    erp_ref="erp-doc-1",
                )
            )
            session.add(
                WorkflowRunRow(
                    id="run_01jd0000000000000000000001",
                    workflow="invoice_posting",
                    subject_id=invoice_id,
                    status=RunStatus.FAILED,
                    params={},
                    attempts=1,
                    result={
                        "erp_total_excluding_tax": 1000,
                        "erp_total_tax": 500,
                        "erp_total_including_tax": 1500,
                    },
                )
            )
        await engine.dispose()

    async def stored() -> tuple[InvoiceRow, AuditEventRow | None]:
        engine = create_async_engine(f"sqlite+aiosqlite:///{sqlite_env}")
        async with create_sessionmaker(engine)() as session:
            invoice = await session.get_one(InvoiceRow, invoice_id)
            audit = await session.scalar(
                select(AuditEventRow).where(AuditEventRow.object_id == invoice_id)
            )
        await engine.dispose()
        return invoice, audit

    asyncio.run(seed_mismatch())
    command = ["invoices", "accept-erp-totals", invoice_id, "--reason", "billed as the ERP"]
    result = runner.invoke(app, [*command, "--operator", "ana"])
    assert result.exit_code == 0, result.output
    invoice, audit = asyncio.run(stored())
    assert (invoice.status, invoice.total) == (InvoiceStatus.POSTED, 1500)
    assert audit is not None
    assert (audit.client_id, audit.action, audit.outcome) == (
        "cli:ana",
        "CLI invoices accept-erp-totals",
        "succeeded",
    )
    again = runner.invoke(app, [*command, "--operator", "ana"])
    assert again.exit_code == 1
    assert "invoice-not-mismatched" in again.output
