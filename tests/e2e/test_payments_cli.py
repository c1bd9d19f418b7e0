"""`ledgergate payments reverse`: the payment reversal workflow, audited as the operator's."""

from datetime import date
from pathlib import Path

from sqlalchemy.orm import Session

from app.cli import app
from app.seed import demo_id
from core.canonical.documents import InvoiceStatus
from core.errors import NotFound
from core.models.invoice import InvoiceRow
from core.models.payment import PaymentRow, PaymentSource, PaymentStatus
from process_apis.payments.errors import PaymentNotApplied
from tests.e2e.test_cli import OPERATOR, audit_rows, in_database, runner, seeded, sqlite_env

__all__ = ["sqlite_env"]  # the fixture, used by name

INVOICE = "inv_01jd0000000000000000000001"
REVERSED, RECORDED = "pay_01jd0000000000000000000001", "pay_01jd0000000000000000000002"


def _payments(session: Session) -> None:
    session.add(
        InvoiceRow(
            id=INVOICE,
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
                invoice_id=INVOICE,
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
