"""Billing's events as dunning sees them, in the billing inbox's transaction.

`invoice.payment_failed`, and a subscription turning `past_due` or `unpaid`, open
dunning for the billing customer's customer. `invoice.paid` for the invoice whose
failure opened the case (any paid invoice of the customer, for a case a subscription
opened without one) closes it: during grace it simply ends; after a suspension the
account is reactivated by a run the caller carries out once committed.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.models.customer import CustomerRow
from process_apis.deps import ProcessContext
from process_apis.dunning.cases import close_case, open_case, open_case_of
from process_apis.dunning.workflow import AccountStatusWorkflow
from system_apis.billing.schemas import BillingEvent, BillingEventType, BillingSubscriptionStatus

logger = logging.getLogger(__name__)

HANDLED = (
    BillingEventType.INVOICE_PAYMENT_FAILED,
    BillingEventType.SUBSCRIPTION_UPDATED,
    BillingEventType.INVOICE_PAID,
)
UNPAID_SUBSCRIPTION = (BillingSubscriptionStatus.PAST_DUE, BillingSubscriptionStatus.UNPAID)


class DunningInbox:
    def __init__(self, context: ProcessContext) -> None:
        self.context = context
        self.workflow = AccountStatusWorkflow(context)

    async def on_event(self, session: AsyncSession, event: BillingEvent) -> str | None:
        """Act on the event; the id of a reactivation run to carry out after the commit."""
        failed_invoice = _failed_invoice(event)
        if failed_invoice is not None:
            customer = await _customer(session, _billing_customer(event))
            if customer is not None:
                await open_case(
                    session,
                    customer,
                    event_id=event.id,
                    billing_invoice_ref=failed_invoice or None,
                    today=self.context.today(),
                    default_grace_days=self.context.settings.dunning_grace_days,
                )
            return None
        paid = event.invoice
        if event.type != BillingEventType.INVOICE_PAID or paid is None or paid.amount_paid <= 0:
            return None
        customer = await _customer(session, paid.customer_id)
        case = None if customer is None else await open_case_of(session, customer.id, lock=True)
        if case is None or case.billing_invoice_ref not in (None, paid.id):
            return None
        if await close_case(session, case, event_id=event.id):
            return await self.workflow.new_run(session, case, suspend=False)
        return None

    async def reactivate(self, run_id: str) -> None:
        await self.workflow.execute(run_id)


def _failed_invoice(event: BillingEvent) -> str | None:
    """The billing invoice of a payment failure ("" when the failure names none), or none
    when the event reports no failure."""
    if event.type == BillingEventType.INVOICE_PAYMENT_FAILED and event.invoice is not None:
        return event.invoice.id
    subscription = event.subscription
    if event.type == BillingEventType.SUBSCRIPTION_UPDATED and subscription is not None:
        if subscription.status in UNPAID_SUBSCRIPTION:
            return subscription.latest_invoice_id or ""
    return None


def _billing_customer(event: BillingEvent) -> str:
    if event.invoice is not None:
        return event.invoice.customer_id
    assert event.subscription is not None
    return event.subscription.customer_id


async def _customer(session: AsyncSession, billing_customer: str) -> CustomerRow | None:
    customer = await session.scalar(
        select(CustomerRow).where(CustomerRow.billing_ref == billing_customer)
    )
    if customer is None:
        logger.warning("dunning.customer_unknown", extra={"billing_customer": billing_customer})
    return customer
