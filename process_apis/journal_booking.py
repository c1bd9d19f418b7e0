"""Booking one journal entry in the ERP as three persisted steps of a run: the journal
batch, the entry, its posting. Settlements, recognition runs, their reversals and lost
disputes book this way."""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import LedgergateError
from process_apis.runs.engine import Engine
from system_apis.erp.port import ErpPort
from system_apis.erp.schemas import (
    ErpDocumentStatus,
    ErpJournalCreate,
    ErpJournalEntry,
    ErpJournalEntryCreate,
)
from system_apis.errors import BackendContractError, BackendTransientError


@dataclass(frozen=True)
class JournalPlan:
    """A journal entry to book, as its run's steps need it; `subject_id` is the run's subject."""

    run_id: str
    subject_id: str
    company_id: str
    journal: ErpJournalCreate
    entry: ErpJournalEntryCreate


async def book_journal_entry(
    engine: Engine, erp: ErpPort, plan: JournalPlan, *, steps: tuple[str, str, str]
) -> ErpJournalEntry:
    """Ensure the journal, add the entry, post it; `steps` names the three steps of the run.

    A post the ERP acknowledges without posting it (no ledger entries) is a contract breach.
    """
    run, company_id, journal, entry = (
        engine.run(plan.run_id),
        plan.company_id,
        plan.journal,
        plan.entry,
    )
    ensure_step, add_step, post_step = steps
    document = entry.document_number
    found = await run.step(
        ensure_step,
        lambda: erp.ensure_journal(company_id, journal),
        request=journal,
        downstream_key=journal.code,
        backend_ref=lambda ensured: ensured.id,
    )
    await run.step(
        add_step,
        lambda: erp.add_journal_entry(company_id, found.id, entry),
        request=entry,
        downstream_key=document,
        backend_ref=lambda added: added.document_number,
    )
    posted = await run.step(
        post_step,
        lambda: erp.post_journal_entry(company_id, found.id, document, entry.currency),
        request={"journal_id": found.id, "document_number": document},
        downstream_key=document,
        backend_ref=lambda booked: booked.document_number,
    )
    if posted.status != ErpDocumentStatus.POSTED or not posted.ledger_entries:
        raise BackendContractError(
            f"the ERP acknowledged the post of journal entry {document} but reports it "
            f"{posted.status} with {len(posted.ledger_entries)} ledger entries",
            backend="erp",
            operation="post_journal_entry",
        )
    return posted


async def attempt_booking(
    engine: Engine, erp: ErpPort, plan: JournalPlan, *, steps: tuple[str, str, str]
) -> ErpJournalEntry | None:
    """Book the plan's entry; `None` when a transient failure queued its run for a retry.
    Any other failure fails the run and is raised."""
    try:
        return await book_journal_entry(engine, erp, plan, steps=steps)
    except BackendTransientError as error:
        await engine.defer(plan.run_id, error)
        return None
    except LedgergateError as error:
        await engine.fail(plan.run_id, error)
        raise
