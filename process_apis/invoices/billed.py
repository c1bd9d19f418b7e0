"""Invoices the billing engine issued for our subscriptions, registered in the gateway.

When a billing invoice of one of our subscriptions reaches the inbox and no gateway
invoice is linked to it, the gateway registers one (linked by `billing_ref`, naming
the subscription) from the billing invoice's period charges: one line per line of a
price of our catalog, with that price's product and tax code, the tax billing
charged and the period it bills as the line's service period (its revenue schedule's).
Billing is the tax engine: a line it charged no tax on takes the legal
entity's untaxed ERP tax group (`LEDGERGATE_LEDGER__UNTAXED_TAX_CODES`, per country) when
one is configured, so the ERP books what the customer owes. Proration lines are left
out: the amendment that caused them already posts its net adjustment to the ERP, as
soon as it is applied (billing may invoice them only with the next period), and that
adjustment is what adjusts the revenue schedule of the subscription's line for the period
(`process_apis.revenue.sources`); registering them too would post them twice. Billing's
proration lines are instead linked to the amendments that caused them (`link_prorations`):
the amendment's proration row names the invoice billing collected it with, so that
invoice's payment settles the amendment's ERP document too
(`process_apis.payments.collected`). An
invoice without such a line, with a line of a price we do not sell, or whose lines
billing did not send in full is not registered; the reason is logged. One that bills
another billing customer than the subscription's is refused (`BillingCustomerMismatch`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, date, timedelta

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.canonical.base import fit
from core.canonical.documents import InvoiceCreate, InvoiceLineCreate
from core.models.amendment_proration import AmendmentProrationRow
from core.models.customer import CustomerRow
from core.models.invoice import InvoiceRow
from core.models.legal_entity import LegalEntityRow
from core.models.price import PriceRow
from core.models.product import ProductRow
from core.models.subscription import SubscriptionRow
from process_apis.errors import BillingCustomerMismatch
from process_apis.invoices.service import create_invoice
from system_apis.billing.schemas import BillingInvoice, BillingInvoiceLine

logger = logging.getLogger(__name__)


async def register_billed_invoice(
    session: AsyncSession,
    billed: BillingInvoice,
    *,
    invoiced_on: date,
    untaxed_tax_codes: Mapping[str, str],
) -> InvoiceRow | None:
    """The gateway invoice for a subscription's billing invoice, registered now; or `None`."""
    if billed.subscription_id is None:
        return None
    subscription = await session.scalar(
        select(SubscriptionRow)
        .where(SubscriptionRow.billing_ref == billed.subscription_id)
        .with_for_update()  # one registration per billing invoice across replicas
    )
    if subscription is None:
        return None
    await check_billing_customer(session, billed, customer_id=subscription.customer_id)
    # Another consumer may have registered it while this one waited for the lock.
    linked = await session.scalar(select(InvoiceRow).where(InvoiceRow.billing_ref == billed.id))
    if linked is not None:
        return linked
    country = await session.scalar(
        select(LegalEntityRow.country)
        .join(CustomerRow, CustomerRow.legal_entity_id == LegalEntityRow.id)
        .where(CustomerRow.id == subscription.customer_id)
    )
    data = await _invoice_create(
        session,
        billed,
        subscription,
        invoiced_on=invoiced_on,
        untaxed_tax_code=untaxed_tax_codes.get(country or ""),
    )
    if data is None:
        return None
    invoice = await create_invoice(session, data=data)
    invoice.billing_ref = billed.id
    await session.flush()
    await link_prorations(session, billed, subscription_id=subscription.id, invoice_id=invoice.id)
    return invoice


async def link_prorations(
    session: AsyncSession, billed: BillingInvoice, *, subscription_id: str, invoice_id: str
) -> list[AmendmentProrationRow]:
    """The subscription's amendments whose prorations the billing invoice collects, linked
    to the invoice registered from it.

    Billing dates an amendment's proration lines from its proration date, the first day the
    amendment's row serves: the lines of one day are that day's amendments' (not linked yet),
    when their nets agree to the cent; lines that agree with no amendment link none (the
    payment then disagrees with what the ERP documents owe, an exception) and are logged.
    """
    days: dict[date, int] = {}
    for line in billed.lines or ():
        if line.proration and line.period_start is not None:
            day = line.period_start.astimezone(UTC).date()
            days[day] = days.get(day, 0) + line.amount
    if not days:
        return []
    rows = (
        await session.scalars(
            select(AmendmentProrationRow)
            .where(
                AmendmentProrationRow.subscription_id == subscription_id,
                AmendmentProrationRow.currency == billed.currency,
                AmendmentProrationRow.invoice_id.is_(None),
                AmendmentProrationRow.service_start.in_(days),
            )
            .order_by(AmendmentProrationRow.service_start, AmendmentProrationRow.id)
        )
    ).all()
    linked: list[AmendmentProrationRow] = []
    for day, net in sorted(days.items()):
        ours = [row for row in rows if row.service_start == day]
        if ours and sum(row.amount for row in ours) == net:
            for row in ours:
                row.invoice_id = invoice_id
            linked.extend(ours)
            continue
        logger.warning(
            "billing.inbox.prorations_not_linked",
            extra={
                "billing_invoice": billed.id,
                "subscription_id": subscription_id,
                "proration_date": day.isoformat(),
                "billed_net": net,
                "amendments_net": sum(row.amount for row in ours),
            },
        )
    await session.flush()
    return linked


async def check_billing_customer(
    session: AsyncSession, billed: BillingInvoice, *, customer_id: str, unknown_ok: bool = False
) -> None:
    """The billing invoice bills our customer's billing customer, or `BillingCustomerMismatch`.

    `unknown_ok`: a customer whose billing id we do not hold passes (an invoice linked by
    metadata may bill a customer created in billing directly); a subscription's customer
    always has one, its order created it.
    """
    ours = await session.scalar(
        select(CustomerRow.billing_ref).where(CustomerRow.id == customer_id)
    )
    if ours == billed.customer_id or (ours is None and unknown_ok):
        return
    raise BillingCustomerMismatch(
        f"billing invoice {billed.id} bills billing customer {billed.customer_id}, but "
        f"customer {customer_id} is billing customer {ours or '(none on record)'}",
        billing_invoice=billed.id,
        billing_customer=billed.customer_id,
        customer_id=customer_id,
    )


async def _invoice_create(
    session: AsyncSession,
    billed: BillingInvoice,
    subscription: SubscriptionRow,
    *,
    invoiced_on: date,
    untaxed_tax_code: str | None,
) -> InvoiceCreate | None:
    why = None
    charges = [line for line in billed.lines or () if not line.proration]
    prices = await session.execute(
        select(PriceRow.billing_ref, ProductRow.id, ProductRow.tax_code)
        .join(ProductRow, ProductRow.id == PriceRow.product_id)
        .where(PriceRow.billing_ref.in_({line.price_id for line in charges if line.price_id}))
    )
    products = {ref: (product_id, tax_code) for ref, product_id, tax_code in prices.all()}
    if billed.lines is None:
        why = "billing sent only some of its lines"
    elif not charges:
        why = "it holds prorations only, which the amendments posted"
    elif unknown := sorted({line.price_id or "none" for line in charges} - products.keys()):
        why = f"it bills prices outside the catalog: {', '.join(unknown)}"
    else:
        try:
            lines = [
                InvoiceLineCreate(
                    description=fit(
                        InvoiceLineCreate, "description", line.description or "Subscription"
                    ),
                    quantity=line.quantity,
                    unit_amount=line.amount // line.quantity,
                    amount=line.amount,
                    tax_code=(
                        untaxed_tax_code
                        if untaxed_tax_code and not line.tax
                        else products[line.price_id or ""][1]
                    ),
                    tax_amount=line.tax,
                    product_id=products[line.price_id or ""][0],
                    **service_period(line),
                )
                for line in charges
            ]
            subtotal = sum(line.amount for line in lines)
            tax = sum(line.tax_amount for line in lines)
            return InvoiceCreate(
                customer_id=subscription.customer_id,
                currency=billed.currency,
                invoice_date=invoiced_on,
                due_date=max(billed.due_date or invoiced_on, invoiced_on),
                lines=lines,
                subtotal=subtotal,
                tax_total=tax,
                total=subtotal + tax,
                subscription_id=subscription.id,
            )
        except ValidationError as error:
            why = f"its lines are not an invoice's: {error.errors()[0]['msg']}"
    logger.warning(
        "billing.inbox.invoice_not_registered",
        extra={"billing_invoice": billed.id, "subscription_id": subscription.id, "reason": why},
    )
    return None


def service_period(line: BillingInvoiceLine) -> dict[str, date]:
    """The days (UTC) a billed line serves, for its revenue schedule: billing's period
    runs to the next period's start, so its last day is the day before the next period's
    first (a period within one day serves that day); none when billing sent no period."""
    if line.period_start is None or line.period_end is None:
        return {}
    first = line.period_start.astimezone(UTC).date()
    last = line.period_end.astimezone(UTC).date() - timedelta(days=1)
    return {"service_period_start": first, "service_period_end": max(first, last)}
