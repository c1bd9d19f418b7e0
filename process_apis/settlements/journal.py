"""Booking one journal entry in the ERP as three persisted steps: the settlement journal,
the entry, its posting (a settlement's journal and its reversal both book this way)."""

from __future__ import annotations

from process_apis.runs.engine import RunHandle
from system_apis.erp.port import ErpPort
from system_apis.erp.schemas import (
    ErpDocumentStatus,
    ErpJournalCreate,
    ErpJournalEntry,
    ErpJournalEntryCreate,
)
from system_apis.errors import BackendContractError


async def book_journal_entry(
    run: RunHandle,
    erp: ErpPort,
    company_id: str,
    journal: ErpJournalCreate,
    entry: ErpJournalEntryCreate,
    *,
    steps: tuple[str, str, str],
) -> ErpJournalEntry:
    """Ensure the journal, add `entry`, post it; `steps` names the three steps of the run.

    A post the ERP acknowledges without posting it (no ledger entries) is a contract breach.
    """
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
