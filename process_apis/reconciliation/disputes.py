"""A dispute lost in billing against the ERP's journal of it, as rows for the staging table.

Both sides are keyed by the journal entry's `DSP-...` document number, which the gateway
derives from the dispute's id before it is booked, and valued at what left the bank:
the amount lost and billing's fee (the bank line's credit). The ERP's side is read from
the bank account's ledger, the entries of `DSP-` documents alone. Both sides date a loss
by its journal's posting date (until it is journaled, the day it was lost), so a journal
booked in a later month is in that month on both sides.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.models.dispute import DisputeRow, DisputeStatus
from process_apis.payments.disputes import JOURNAL_PREFIX, dispute_document_number
from process_apis.reconciliation.schemas import DocumentType, Side
from process_apis.reconciliation.sources import (
    RUN_PAGE,
    Row,
    Scope,
    document_row,
    erp_journal_rows,
)
from system_apis.erp.port import ErpDocumentStreams


async def gateway_disputes(
    sessionmaker: async_sessionmaker[AsyncSession], scope: Scope
) -> AsyncIterator[Row]:
    """The disputes lost (not journaled) or journaled in the period, in keyset pages by id."""
    dated = func.coalesce(DisputeRow.posting_date, DisputeRow.closed_on)
    after = ""
    while True:
        async with sessionmaker() as session:
            page = list(
                await session.execute(
                    select(DisputeRow, dated)
                    .where(
                        DisputeRow.legal_entity_id == scope.legal_entity_id,
                        DisputeRow.status == DisputeStatus.LOST,
                        dated.between(scope.start, scope.end),
                        DisputeRow.id > after,
                    )
                    .order_by(DisputeRow.id)
                    .limit(RUN_PAGE)
                )
            )
        for dispute, day in page:
            number = dispute.erp_document_number or dispute_document_number(dispute.id)
            yield document_row(
                scope,
                Side.GATEWAY,
                key=number,
                document_type=DocumentType.DISPUTE.value,
                currency=dispute.currency,
                amount=dispute.amount + (dispute.fee or 0),
                ref=dispute.id,
                number=dispute.erp_document_number,
                dated=day,
            )
        if len(page) < RUN_PAGE:
            return
        after = page[-1][0].id


async def erp_dispute_journals(
    erp: ErpDocumentStreams, scope: Scope, *, bank_account: str
) -> AsyncIterator[Row]:
    """The bank account's `DSP-` entries of the period: what each dispute journal took out."""
    async for row in erp_journal_rows(
        erp,
        scope,
        account_number=bank_account,
        prefix=JOURNAL_PREFIX,
        document_type=DocumentType.DISPUTE,
    ):
        yield row
