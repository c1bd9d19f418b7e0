"""Disputes (chargebacks) of a paid invoice's charge, from billing's dispute events.

`charge.dispute.created` (the billing inbox's transaction): one dispute row per billing
dispute, `open`; the invoice is disputed and every unsettled commission line its payment
earned is held (`held_by`: settlement passes it by). `charge.dispute.closed` as `won`:
the hold is released, the commission settles as earned. As `lost`: the dispute is `lost`
with billing's fee, and a `dispute_loss` run, leased in the same transaction, books it
once committed: the ERP gets one journal entry (journal `LEDGERGATE_LEDGER__DISPUTE_JOURNAL`,
document number `DSP-...`, external document number the dispute's id) debiting the legal
entity's write-off account with the amount lost and its fee account with the fee,
against the bank account the money left; dated today or by the closed-period policy.
Then, in one transaction, the commission left on each line is clawed back naming the
dispute, and the hold is released, so lines and claw-backs settle together.

A redelivered event finds its dispute and changes nothing. A dispute closed before the
gateway saw it opened is opened first.
"""

from __future__ import annotations

import logging
from datetime import date

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.canonical.base import fit
from core.ids import new_id
from core.models.base import utcnow
from core.models.commission_line import CommissionLineRow
from core.models.dispute import DisputeRow, DisputeStatus
from core.models.payment import PaymentRow
from core.models.workflow_run import WorkflowRunRow
from core.settings import DisputeAccounts, LedgerSettings
from events.attribution import customer_partner
from events.outbox import record
from events.schemas import payment as payment_events
from events.schemas.refund import DisputeLost, DisputeOpened, DisputeWon, dispute_event
from process_apis.deps import ProcessContext
from process_apis.journal_booking import JournalPlan, attempt_booking
from process_apis.legal_entities.periods import posting_date_for
from process_apis.legal_entities.repository import get_legal_entity
from process_apis.payments.clawback import claw_back
from process_apis.payments.errors import PaymentInLedger
from process_apis.payments.refunds import payment_of_charge
from process_apis.runs.engine import Engine, failing, mark_succeeded
from process_apis.runs.replay import Replay
from process_apis.runs.repository import succeeded_step
from system_apis.billing.schemas import BillingDispute, BillingDisputeStatus
from system_apis.erp.schemas import (
    ErpJournalCreate,
    ErpJournalEntry,
    ErpJournalEntryCreate,
    ErpJournalLine,
)

logger = logging.getLogger(__name__)

WORKFLOW = "dispute_loss"
STEPS = ("ensure_dispute_journal", "add_dispute_entry", "post_dispute_entry")
CLIENT = "billing-inbox"
JOURNAL_PREFIX = "DSP-"


def dispute_document_number(dispute_id: str) -> str:
    """The journal entry's document number: `DSP-` and the dispute id's tail (20 chars)."""
    return f"{JOURNAL_PREFIX}{dispute_id.removeprefix('dsp_')[-16:].upper()}"


class DisputeWorkflow:
    def __init__(self, context: ProcessContext) -> None:
        self.context = context
        self.engine = Engine(context.sessionmaker, steps=STEPS, lease=context.settings.run_lease)

    def replays(self) -> dict[str, Replay]:
        return {WORKFLOW: Replay(resume=self.book_loss, discard=self.discard)}

    async def on_dispute(self, session: AsyncSession, billed: BillingDispute) -> str | None:
        """Open, win or lose the dispute in the caller's transaction; the id of a loss's
        run to `book_loss` once committed."""
        dispute = await session.scalar(
            select(DisputeRow).where(DisputeRow.source_ref == billed.id).with_for_update()
        )
        if dispute is None:
            payment = await payment_of_charge(session, billed.charge_id, None)
            if payment is None:
                logger.warning("disputes.charge_unknown", extra={"charge": billed.charge_id})
                return None
            dispute = await self._open(session, payment, billed)
        if dispute.status != DisputeStatus.OPEN or billed.status == BillingDisputeStatus.OPEN:
            return None
        dispute.closed_on = self.context.today()
        dispute.closed_at = utcnow()
        partner_id = await customer_partner(session, dispute.customer_id)
        if billed.status == BillingDisputeStatus.WON:
            dispute.status = DisputeStatus.WON
            await _release(session, dispute.id)
            await session.flush()
            await record(session, dispute_event(DisputeWon, dispute, partner_id=partner_id))
            return None
        dispute.status = DisputeStatus.LOST
        dispute.fee = billed.fee
        run = self.engine.new_run(
            workflow=WORKFLOW,
            subject_id=dispute.id,
            legal_entity_id=dispute.legal_entity_id,
            params={"source_ref": billed.id},
            correlation_id=None,
            client_id=CLIENT,
        )
        run.attempts = 0  # `book_loss` counts the first attempt when it takes the leased run
        session.add(run)
        await session.flush()
        return run.id

    async def _open(
        self, session: AsyncSession, payment: PaymentRow, billed: BillingDispute
    ) -> DisputeRow:
        dispute = DisputeRow(
            id=new_id("dispute"),
            payment_id=payment.id,
            invoice_id=payment.invoice_id,
            customer_id=payment.customer_id,
            legal_entity_id=payment.legal_entity_id,
            currency=payment.currency,
            amount=billed.amount,
            source_ref=billed.id,
            charge_ref=billed.charge_id,
            reason=billed.reason,
            status=DisputeStatus.OPEN,
            opened_on=self.context.today(),
        )
        session.add(dispute)
        await session.execute(
            update(CommissionLineRow)
            .where(
                CommissionLineRow.payment_id == payment.id,
                CommissionLineRow.settlement_id.is_(None),
                CommissionLineRow.held_by.is_(None),
            )
            .values(held_by=dispute.id)
            .execution_options(synchronize_session=False)
        )
        await session.flush()
        partner_id = await customer_partner(session, payment.customer_id)
        await record(session, dispute_event(DisputeOpened, dispute, partner_id=partner_id))
        return dispute

    async def discard(self, session: AsyncSession, run: WorkflowRunRow) -> None:
        """Give up booking a loss the ERP holds nothing of (the dispute stays `lost`, its
        commission held); one whose entry is posted is finished by a replay."""
        if await succeeded_step(session, run.id, "add_dispute_entry") is not None:
            raise PaymentInLedger(
                f"the loss of dispute {run.subject_id} is in the ERP's journal; replay the run "
                "to finish it"
            )

    async def book_loss(self, run_id: str) -> None:
        """Journal the loss in the ERP, then claw the commission back; a failure is recorded
        on the run (and raised unless transient)."""
        async with self.context.sessionmaker() as session:
            plan = await self._prepare(session, run_id)
        if plan is None:
            return
        entry = await attempt_booking(self.engine, self.context.erp, plan, steps=STEPS)
        if entry is not None:
            await self._record(plan, entry)

    async def _prepare(self, session: AsyncSession, run_id: str) -> JournalPlan | None:
        run = await session.get_one(WorkflowRunRow, run_id, with_for_update=True)
        dispute = await session.get_one(DisputeRow, run.subject_id, with_for_update=True)
        if dispute.erp_document_number is not None:
            return None
        self.engine.resume(run, correlation_id=None)
        legal_entity = await get_legal_entity(session, dispute.legal_entity_id)
        async with failing(session, run, dispute_id=dispute.id):
            posting_date = posting_date_for(legal_entity, self.context.today())
        ledger = self.context.settings.ledger
        plan = JournalPlan(
            run_id=run.id,
            subject_id=dispute.id,
            company_id=legal_entity.erp_company_id,
            journal=ErpJournalCreate(
                code=ledger.dispute_journal, display_name="Ledgergate disputes"
            ),
            entry=_loss_entry(
                dispute,
                posting_date=posting_date,
                ledger=ledger,
                accounts=ledger.dispute_accounts.get(legal_entity.code, DisputeAccounts()),
            ),
        )
        await session.commit()
        return plan

    async def _record(self, plan: JournalPlan, entry: ErpJournalEntry) -> None:
        async with self.engine.transaction(plan.run_id) as session:
            run = await session.get_one(WorkflowRunRow, plan.run_id)
            dispute = await session.get_one(DisputeRow, run.subject_id, with_for_update=True)
            dispute.erp_document_number = entry.document_number
            # The ERP's date: an entry an earlier attempt added keeps the date it was given.
            dispute.posting_date = next(
                (e.posting_date for e in entry.ledger_entries if e.posting_date is not None),
                plan.entry.posting_date,
            )
            clawed = await claw_back(session, dispute.payment_id, cause_id=dispute.id)
            await session.flush()
            await _release(session, dispute.id)
            for line in clawed:
                line.held_by = None
            mark_succeeded(
                run,
                {
                    "dispute_id": dispute.id,
                    "document_number": entry.document_number,
                    "written_off": dispute.amount,
                    "fee": dispute.fee,
                    "clawed_back_lines": len(clawed),
                    "clawed_back_commission": sum(line.commission_amount for line in clawed),
                },
            )
            partner_id = await customer_partner(session, dispute.customer_id)
            await session.flush()
            await record(
                session,
                dispute_event(DisputeLost, dispute, partner_id=partner_id),
                *(
                    payment_events.clawed_back(line, correlation_id=run.correlation_id)
                    for line in clawed
                ),
            )


async def _release(session: AsyncSession, dispute_id: str) -> None:
    """The dispute's hold lifted from every line it held."""
    await session.execute(
        update(CommissionLineRow)
        .where(CommissionLineRow.held_by == dispute_id)
        .values(held_by=None)
        .execution_options(synchronize_session=False)
    )


def _loss_entry(
    dispute: DisputeRow, *, posting_date: date, ledger: LedgerSettings, accounts: DisputeAccounts
) -> ErpJournalEntryCreate:
    """The amount written off and the fee, debited against the bank they left."""
    fee = dispute.fee or 0

    def line(account: str, amount: int, text: str) -> ErpJournalLine:
        return ErpJournalLine(
            account_number=account,
            amount=amount,
            description=fit(ErpJournalLine, "description", f"{text} {dispute.source_ref}"),
        )

    lines = [line(accounts.write_off, dispute.amount, "Chargeback lost:")]
    if fee:
        lines.append(line(accounts.fee, fee, "Dispute fee:"))
    lines.append(line(ledger.bank_account, -(dispute.amount + fee), "Chargeback withdrawn:"))
    return ErpJournalEntryCreate(
        document_number=dispute_document_number(dispute.id),
        external_document_number=dispute.id,
        posting_date=posting_date,
        currency=dispute.currency,
        lines=tuple(lines),
    )
