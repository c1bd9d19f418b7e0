"""The `ledgergate` command."""

import asyncio
import json
import logging
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import create_engine, func, inspect, select
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app.cli import app
from app.runtime import runtime
from app.sandbox_servers import sandbox_url
from app.seed import demo_id, seed_demo_estate
from core.canonical.documents import InvoiceCreate, InvoiceStatus
from core.db import create_sessionmaker
from core.errors import NotFound
from core.models.audit_event import AuditEventRow
from core.models.base import utcnow
from core.models.idempotency_key import IdempotencyKeyRow, IdempotencyStatus
from core.models.invoice import InvoiceRow
from core.models.payment import PaymentRow, PaymentSource, PaymentStatus
from core.models.price import PriceRow
from core.models.product import ProductRow
from core.models.usage_event import UsageEventRow
from core.models.webhook_event import WebhookInboxRow
from core.models.workflow_run import RunStatus, WorkflowRunRow
from core.settings import get_settings
from process_apis.invoices.schemas import PostingCreate
from process_apis.invoices.service import create_invoice
from process_apis.invoices.workflow import InvoicePostingWorkflow
from process_apis.payments.errors import PaymentNotApplied
from process_apis.settlements.errors import SettlementPeriodOpen
from tests.support.invoices import US_COMPANY, invoice_body
from tests.support.sandbox_processes import UNREACHABLE_URLS, sandbox_process

T = TypeVar("T")

runner = CliRunner(env={"COLUMNS": "200"})
OPERATOR = "ops.alice@example.com"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """`worker` and `serve` point the root logger at the runner's stream, closed afterwards:
    later tests would print logging errors into their output."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def sqlite_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    database = tmp_path / "cli.db"
    monkeypatch.setenv("LEDGERGATE_DATABASE_URL", f"sqlite+aiosqlite:///{database}")
    monkeypatch.setenv("LEDGERGATE_OPERATOR", OPERATOR)
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


@pytest.fixture
def shared_backends(sqlite_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """URLs for every backend (unreachable ones: these commands call none)."""
    for name, url in UNREACHABLE_URLS.items():
        monkeypatch.setenv(name, url)
    get_settings.cache_clear()
    yield sqlite_env
    get_settings.cache_clear()


@pytest.mark.parametrize(
    "command",
    [
        ["worker", "--once"],
        ["serve", "--workers", "2"],
        ["exceptions", "replay", "--all"],
        ["reconcile", "--period", "2026-11", "--legal-entity", "le_00000000000000000000000001"],
    ],
)
def test_a_process_that_would_get_a_private_sandbox_refuses_to_start(
    sqlite_env: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.setenv("LEDGERGATE_ERP__URL", sandbox_url("erp"))
    get_settings.cache_clear()
    result = runner.invoke(app, command)
    assert result.exit_code == 2, result.output
    assert "no URL for billing, crm, support" in result.output
    assert f"LEDGERGATE_CRM__URL={sandbox_url('crm')}" in result.output
    assert "LEDGERGATE_ERP__URL" not in result.output


def test_one_worker_pass_does_every_kind_of_background_work(shared_backends: Path) -> None:
    """The webhook inbox is drained, expired idempotency keys and usage events past their
    retention purged, not only retries."""
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    now = utcnow()

    async def seed() -> None:
        engine = create_async_engine(f"sqlite+aiosqlite:///{shared_backends}")
        async with create_sessionmaker(engine).begin() as session:
            event = {"id": "evt_1", "type": "invoice.paid", "vendor_type": "invoice.paid"}
            session.add(
                WebhookInboxRow(
                    provider="stripe",
                    event_id="evt_1",
                    event_type="invoice.paid",
                    vendor_type="invoice.paid",
                    payload={**event, "occurred_at": now.isoformat()},
                    received_at=now,
                )
            )
            session.add(
                IdempotencyKeyRow(
                    client_id="c",
                    key="k",
                    method="POST",
                    path="/v1/invoices",
                    request_hash="0" * 64,
                    status=IdempotencyStatus.COMPLETED,
                    expires_at=now - timedelta(minutes=1),
                )
            )
            long_ago = now - timedelta(days=500)
            session.add(
                UsageEventRow(
                    client_id="c",
                    event_id="u-1",
                    subscription_id="sub_1",
                    price_id="price_1",
                    meter="api_calls",
                    quantity_micros=1,
                    occurred_at=long_ago,
                    period_start=long_ago,
                    period_end=long_ago + timedelta(days=30),
                    late=False,
                    flagged=False,
                    body_hash="0" * 64,
                    received_at=long_ago,
                )
            )
        await engine.dispose()

    async def left() -> tuple[int, int]:
        engine = create_async_engine(f"sqlite+aiosqlite:///{shared_backends}")
        async with create_sessionmaker(engine)() as session:
            pending = await session.scalar(
                select(func.count()).where(WebhookInboxRow.processed_at.is_(None))
            )
            keys = await session.scalar(select(func.count()).select_from(IdempotencyKeyRow))
            usage = await session.scalar(select(func.count()).select_from(UsageEventRow))
        await engine.dispose()
        return int(pending or 0), int(keys or 0), int(usage or 0)

    asyncio.run(seed())
    drained = runner.invoke(app, ["worker", "--once"])
    assert drained.exit_code == 0, drained.output
    assert "inbox 1 · claimed 0: {} · purged 2" in drained.output
    assert asyncio.run(left()) == (0, 0, 0)


def test_the_queue_lists_and_replays(shared_backends: Path) -> None:
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    listed = runner.invoke(app, ["exceptions", "list"])
    assert listed.exit_code == 0, listed.output
    assert "workflow" in listed.output
    replayed = runner.invoke(app, ["exceptions", "replay", "run_01jd0000000000000000000000"])
    assert replayed.exit_code == 0, replayed.output
    assert "skipped (not-found)" in replayed.output


def test_reconcile_refuses_an_unknown_legal_entity(shared_backends: Path) -> None:
    result = runner.invoke(
        app, ["reconcile", "--period", "2026-11", "--legal-entity", "le_00000000000000000000000001"]
    )
    assert result.exit_code == 1
    assert result.output.strip().endswith(f"({NotFound.type_uri()})")


def test_reconcile_exits_zero_when_both_sides_agree(
    shared_backends: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    sqlite_env = shared_backends

    async def seed() -> None:
        engine = create_async_engine(f"sqlite+aiosqlite:///{sqlite_env}")
        await seed_demo_estate(create_sessionmaker(engine))
        await engine.dispose()

    asyncio.run(seed())
    # the ERP and billing the gateway would have used, shared (both hold nothing yet)
    with sandbox_process("erp") as erp, sandbox_process("billing") as billing:
        monkeypatch.setenv("LEDGERGATE_ERP__URL", erp.api_root)
        monkeypatch.setenv("LEDGERGATE_BILLING__URL", billing.api_root)
        get_settings.cache_clear()
        result = runner.invoke(
            app, ["reconcile", "--period", "2026-11", "--legal-entity", demo_id("legal_entity", 1)]
        )
    assert result.exit_code == 0, result.output
    assert "clean: all sides agree" in result.output
    assert "┃ type ┃ currency ┃" in result.output  # a line per document type and currency


def test_reconcile_prints_the_catalog_drift_and_exits_one(
    shared_backends: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert runner.invoke(app, ["migrate"]).exit_code == 0

    async def seed() -> None:
        engine = create_async_engine(f"sqlite+aiosqlite:///{shared_backends}")
        sessionmaker = create_sessionmaker(engine)
        await seed_demo_estate(sessionmaker)
        async with sessionmaker.begin() as session:  # sold in USD, but no ERP item named
            session.add(
                ProductRow(id="prod_unmapped", name="Add-on", tier="pro", tax_code="STANDARD")
            )
            await session.flush()
            session.add(
                PriceRow(
                    id="price_unmapped",
                    product_id="prod_unmapped",
                    currency="USD",
                    unit_amount=900,
                    interval="month",
                )
            )
        await engine.dispose()

    asyncio.run(seed())
    with sandbox_process("erp") as erp, sandbox_process("billing") as billing:
        monkeypatch.setenv("LEDGERGATE_ERP__URL", erp.api_root)
        monkeypatch.setenv("LEDGERGATE_BILLING__URL", billing.api_root)
        get_settings.cache_clear()
        result = runner.invoke(
            app, ["reconcile", "--period", "2026-11", "--legal-entity", demo_id("legal_entity", 1)]
        )
    assert result.exit_code == 1, result.output
    assert "catalog drift (1): product no_erp_item: 1" in result.output
    assert "prod_unmapped" in result.output
    assert "active product mapped to no ERP item" in result.output


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
        "ana",
        "CLI invoices accept-erp-totals",
        "succeeded",
    )
    again = runner.invoke(app, [*command, "--operator", "ana"])
    assert again.exit_code == 1
    assert "invoice-not-mismatched" in again.output


def seeded(database: Path) -> None:
    assert runner.invoke(app, ["migrate"]).exit_code == 0

    async def seed() -> None:
        engine = create_async_engine(f"sqlite+aiosqlite:///{database}")
        await seed_demo_estate(create_sessionmaker(engine))
        await engine.dispose()

    asyncio.run(seed())


def in_database(database: Path, work: Callable[[Session], T]) -> T:
    engine = create_engine(f"sqlite:///{database}")
    try:
        with Session(engine) as session, session.begin():
            return work(session)
    finally:
        engine.dispose()


def audit_rows(database: Path) -> list[tuple[str | None, str, str | None, str, int]]:
    return in_database(
        database,
        lambda session: [
            (e.client_id, e.action, e.object_id, e.outcome, e.status_code)
            for e in session.scalars(select(AuditEventRow).order_by(AuditEventRow.id))
        ],
    )


def test_a_change_needs_a_named_operator(sqlite_env: Path) -> None:
    anonymous = {"LEDGERGATE_OPERATOR": None}
    for command in (
        ["clients", "create", "--name", "x", "--scope", "invoices:read"],
        ["keys", "rotate"],
        ["exceptions", "resolve", "run_01jd0000000000000000000000", "--note", "n"],
        ["settle", "--period", "2026-11"],
    ):
        refused = runner.invoke(app, command, env=anonymous)
        assert refused.exit_code == 2, refused.output
        assert "--operator" in refused.output
    nameless = runner.invoke(app, ["keys", "rotate", "--operator", "a b"])
    assert nameless.exit_code == 2
    assert not sqlite_env.exists() or audit_rows(sqlite_env) == []


def test_every_cli_change_lands_in_the_audit_trail_with_its_operator(sqlite_env: Path) -> None:
    created = runner.invoke(
        app, ["clients", "create", "--name", "ERP bot", "--scope", "invoices:read"]
    )
    assert created.exit_code == 0, created.output
    client_id = created.output.split("client_id")[1].split()[0]
    assert runner.invoke(app, ["clients", "disable", client_id, "--operator", "bob"]).exit_code == 0
    missing = runner.invoke(
        app, ["exceptions", "discard", "run_01jd0000000000000000000000", "--note", "gone"]
    )
    assert missing.exit_code == 1
    assert missing.output.strip().endswith(f"({NotFound.type_uri()})")
    assert audit_rows(sqlite_env) == [
        (OPERATOR, "CLI clients create", None, "succeeded", 200),
        ("bob", "CLI clients disable", client_id, "succeeded", 200),
        (OPERATOR, "CLI exceptions discard", "run_01jd0000000000000000000000", "rejected", 404),
    ]


def test_a_resolved_run_is_closed_by_the_named_operator(sqlite_env: Path) -> None:
    seeded(sqlite_env)
    run_id = "run_01jd0000000000000000000001"
    in_database(
        sqlite_env,
        lambda session: session.add(
            WorkflowRunRow(
                id=run_id,
                workflow="invoice_posting",
                subject_id="inv_01jd0000000000000000000001",
                status=RunStatus.FAILED,
                params={},
                attempts=1,
            )
        ),
    )
    resolved = runner.invoke(app, ["exceptions", "resolve", run_id, "--note", "fixed in the ERP"])
    assert resolved.exit_code == 0, resolved.output
    result = in_database(sqlite_env, lambda session: session.get_one(WorkflowRunRow, run_id).result)
    assert result == {"closed_by": OPERATOR, "note": "fixed in the ERP"}
    [event] = [row for row in audit_rows(sqlite_env) if row[1] == "CLI exceptions resolve"]
    assert event == (OPERATOR, "CLI exceptions resolve", run_id, "succeeded", 200)


def test_settle_refuses_a_month_that_has_not_ended_and_settles_one_that_has(
    sqlite_env: Path,
) -> None:
    seeded(sqlite_env)
    this_month = date.today().strftime("%Y-%m")
    early = runner.invoke(app, ["settle", "--period", this_month])
    assert early.exit_code == 1
    assert early.output.strip().endswith(f"({SettlementPeriodOpen.type_uri()})")
    settled = runner.invoke(app, ["settle"])  # the previous month
    assert settled.exit_code == 0, settled.output
    assert "0 drawn up" in settled.output
    assert [row[1:] for row in audit_rows(sqlite_env)] == [
        ("CLI settle", None, "rejected", 422),
        ("CLI settle", None, "succeeded", 200),
    ]
    assert runner.invoke(app, ["settle", "--period", "2026-13"]).exit_code == 2


def test_an_operator_corrects_a_posted_invoice_from_the_cli(
    shared_backends: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert runner.invoke(app, ["migrate"]).exit_code == 0

    async def posted_invoice() -> tuple[str, str]:
        settings = get_settings()
        async with runtime(settings) as running:
            await seed_demo_estate(running.context.sessionmaker)
            async with running.context.sessionmaker.begin() as session:
                invoice = await create_invoice(session, data=InvoiceCreate(**invoice_body()))
            await InvoicePostingWorkflow(running.context).post(
                invoice_id=invoice.id,
                request=PostingCreate(),
                client_id="test",
                correlation_id=None,
            )
        return invoice.id, invoice.lines[0].id

    async def erp_remaining(invoice_id: str) -> int:
        async with runtime(get_settings()) as running:
            invoice = await running.context.erp.find_sales_invoice(US_COMPANY, invoice_id)
            assert invoice is not None
            return invoice.remaining_amount

    with sandbox_process("erp") as erp:
        monkeypatch.setenv("LEDGERGATE_ERP__URL", erp.api_root)
        get_settings.cache_clear()
        invoice_id, line_id = asyncio.run(posted_invoice())
        command = [
            "invoices",
            "correct",
            invoice_id,
            "--reason",
            "one seat too many",
            "--line",
            f"{line_id}=quantity:1",
            "--idempotency-key",
            "fix-1",
        ]
        result = runner.invoke(app, command)
        assert result.exit_code == 0, result.output
        assert "posted: 4900 + tax 435 USD credited" in result.output
        again = runner.invoke(app, command)  # the same key: the same memo, nothing new
        assert again.exit_code == 0, again.output
        assert again.output.split()[0] == result.output.split()[0]
        remaining = asyncio.run(erp_remaining(invoice_id))
        bad = runner.invoke(app, [*command[:6], f"{line_id}=seats:1", *command[7:]])
    total = invoice_body()["total"]
    assert remaining == total - (4900 + 435)
    assert bad.exit_code == 2
    assert "quantity:N" in bad.output
    rows = [row for row in audit_rows(shared_backends) if row[1] == "CLI invoices correct"]
    assert [(row[0], row[2], row[3]) for row in rows] == [
        (OPERATOR, invoice_id, "succeeded"),
        (OPERATOR, invoice_id, "succeeded"),
    ]


PAYMENT_INVOICE = "inv_01jd0000000000000000000001"
REVERSED, RECORDED = "pay_01jd0000000000000000000001", "pay_01jd0000000000000000000002"


def _payments(session: Session) -> None:
    """An invoice with a payment reversed already and one the ERP never took."""
    session.add(
        InvoiceRow(
            id=PAYMENT_INVOICE,
            customer_id=demo_id("customer", 1),
            legal_entity_id=demo_id("legal_entity", 1),
            currency="USD",
            invoice_date=date(2026, 11, 2),
            due_date=date(2026, 12, 2),
            subtotal=1000,
            tax_total=89,
            total=1089,
            status=InvoiceStatus.POSTED,
            erp_ref="erp-doc-1",
        )
    )
    session.flush()
    for payment_id, status in (
        (REVERSED, PaymentStatus.REVERSED),
        (RECORDED, PaymentStatus.RECORDED),
    ):
        session.add(
            PaymentRow(
                id=payment_id,
                invoice_id=PAYMENT_INVOICE,
                customer_id=demo_id("customer", 1),
                legal_entity_id=demo_id("legal_entity", 1),
                currency="USD",
                amount=1089,
                paid_on=date(2026, 11, 20),
                source=PaymentSource.DIRECT,
                status=status,
                erp_document_number="G00001" if status == PaymentStatus.REVERSED else None,
                reversal_document_number="G00002" if status == PaymentStatus.REVERSED else None,
            )
        )


def test_payments_reverse_answers_a_reversed_payment_and_refuses_one_not_applied(
    sqlite_env: Path,
) -> None:
    seeded(sqlite_env)
    in_database(sqlite_env, _payments)
    command = ["payments", "reverse", "--reason", "cheque bounced"]
    done = runner.invoke(app, [*command, REVERSED])
    assert done.exit_code == 0, done.output
    assert "reversed" in done.output
    assert "G00002" in done.output
    refused = runner.invoke(app, [*command, RECORDED, "--operator", "ana"])
    assert refused.exit_code == 1, refused.output
    assert refused.output.strip().endswith(f"({PaymentNotApplied.type_uri()})")
    missing = runner.invoke(app, [*command, "pay_01jd0000000000000000000009"])
    assert missing.exit_code == 1
    assert missing.output.strip().endswith(f"({NotFound.type_uri()})")
    assert [row for row in audit_rows(sqlite_env) if row[1] == "CLI payments reverse"] == [
        (OPERATOR, "CLI payments reverse", REVERSED, "succeeded", 200),
        ("ana", "CLI payments reverse", RECORDED, "rejected", 409),
        (OPERATOR, "CLI payments reverse", "pay_01jd0000000000000000000009", "rejected", 404),
    ]
