"""A recognition run's ERP journal entry, and its reversal, as plans to book.

An invoice line with a service period is booked to its deferred revenue account when
the invoice is posted (and a correction of it, and an amendment's ERP adjustment,
likewise), so the month's entry moves what the month earned out of deferred revenue
(deferred debited, revenue credited), per account pair. What was booked to revenue
instead (an invoice or an amendment posted before, a credit of the invoice as a whole)
is first moved into deferred revenue (revenue debited, deferred credited: "Billings
deferred"), so the ERP's deferred revenue balance is the schedules'.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from core.canonical.base import fit
from core.models.revenue import RecognitionRunLineRow, RecognitionRunRow
from core.settings import RevenueSettings
from process_apis.journal_booking import JournalPlan
from system_apis.erp.schemas import ErpJournalCreate, ErpJournalEntryCreate, ErpJournalLine

JOURNAL_NAME = "Ledgergate revenue recognition"


def document_number(run_id: str, prefix: str) -> str:
    """The prefix (`REV-`, `RVR-`) and the id's last 16 characters: within the ERP's 20."""
    return prefix + run_id.rsplit("_", 1)[1][-16:].upper()


def journal_lines(
    run: RecognitionRunRow, lines: Sequence[RecognitionRunLineRow]
) -> tuple[ErpJournalLine, ...]:
    """Per account pair: billings deferred, then revenue recognized; no line of zero."""
    month = f"{run.period_start:%Y-%m}"
    booked: list[tuple[str, int, str]] = []
    for line in lines:
        deferred_text, earned_text = f"Billings deferred {month}", f"Revenue recognized {month}"
        booked += [
            (line.revenue_account, line.deferred, deferred_text),
            (line.deferred_account, -line.deferred, deferred_text),
            (line.deferred_account, line.recognized, earned_text),
            (line.revenue_account, -line.recognized, earned_text),
        ]
    return tuple(
        ErpJournalLine(
            account_number=account,
            amount=amount,
            description=fit(ErpJournalLine, "description", text),
        )
        for account, amount, text in booked
        if amount
    )


def recognition_plan(
    run_id: str,
    recognition: RecognitionRunRow,
    lines: Sequence[RecognitionRunLineRow],
    *,
    company_id: str,
    posting_date: date,
    settings: RevenueSettings,
) -> JournalPlan:
    return JournalPlan(
        run_id=run_id,
        subject_id=recognition.id,
        company_id=company_id,
        journal=ErpJournalCreate(code=settings.journal, display_name=JOURNAL_NAME),
        entry=ErpJournalEntryCreate(
            document_number=recognition.journal_document_number or "",
            external_document_number=recognition.id,
            posting_date=posting_date,
            currency=recognition.currency,
            lines=journal_lines(recognition, lines),
        ),
    )


def reversal_plan(
    run_id: str,
    recognition: RecognitionRunRow,
    lines: Sequence[RecognitionRunLineRow],
    *,
    company_id: str,
    posting_date: date,
    reason: str,
    settings: RevenueSettings,
) -> JournalPlan:
    """Every line of the run's entry with its sign turned."""
    text = f"Reversal of {recognition.journal_document_number}: {reason}"
    return JournalPlan(
        run_id=run_id,
        subject_id=recognition.id,
        company_id=company_id,
        journal=ErpJournalCreate(code=settings.journal, display_name=JOURNAL_NAME),
        entry=ErpJournalEntryCreate(
            document_number=recognition.reversal_document_number or "",
            external_document_number=f"{recognition.id}-R",
            posting_date=posting_date,
            currency=recognition.currency,
            lines=tuple(
                ErpJournalLine(
                    account_number=line.account_number,
                    amount=-line.amount,
                    description=fit(ErpJournalLine, "description", text),
                )
                for line in journal_lines(recognition, lines)
            ),
        ),
    )
