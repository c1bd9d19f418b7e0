"""An in-memory billing engine that satisfies `BillingPort`.

Keyed writes answer a repeated idempotency key with the object the first call made.
A subscription's first period is invoiced at once; a change is prorated over the part
of the period left (`remaining`, a fraction a test sets); cancelling a cancelled
subscription is refused as not found; a paid or draft invoice cannot be voided; a
credit note cannot credit more than its invoice's total less earlier credit notes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import TypeVar

from pydantic import BaseModel

from system_apis.billing.port import BillingPort
from system_apis.billing.schemas import (
    BillingCreditNote,
    BillingCreditNoteCreate,
    BillingCreditNoteLine,
    BillingCreditNotePage,
    BillingCreditNoteType,
    BillingCustomer,
    BillingCustomerCreate,
    BillingCustomerUpdate,
    BillingInvoice,
    BillingInvoiceLine,
    BillingInvoiceStatus,
    BillingPage,
    BillingPrice,
    BillingPriceCreate,
    BillingPricePage,
    BillingProduct,
    BillingProductCreate,
    BillingSubscription,
    BillingSubscriptionChange,
    BillingSubscriptionCreate,
    BillingSubscriptionItem,
    BillingSubscriptionStatus,
    BillingUsageRecord,
    BillingUsageReport,
    ProrationLine,
    ProrationPreview,
)
from tests.support.fakes.recorder import Recorder

M = TypeVar("M", bound=BaseModel)
PERIOD = timedelta(days=30)


class FakeBilling:
    """`BillingPort` held in dicts; `recorder` arms failures and keeps the calls."""

    def __init__(self, *, now: datetime | None = None) -> None:
        self.recorder = Recorder("billing", BillingPort)
        self.now = now or datetime(2026, 11, 15, 12, 0, tzinfo=UTC)
        self.remaining = Fraction(1, 2)  # of the current period, when a change is prorated
        self.proration_tax_bps = 0  # the tax rate billing charges on prorations
        self.customers: dict[str, BillingCustomer] = {}
        self.products: dict[str, BillingProduct] = {}
        self.prices: dict[str, BillingPrice] = {}
        self.subscriptions: dict[str, BillingSubscription] = {}
        self.invoices: dict[str, BillingInvoice] = {}
        self.credit_notes: dict[str, BillingCreditNote] = {}
        self.usage: dict[str, dict[datetime, int]] = {}  # per item: quantity set by timestamp
        self._keyed: dict[str, BaseModel] = {}
        self._serial = 0

    def _next(self, prefix: str) -> str:
        self._serial += 1
        return f"{prefix}_fake{self._serial:05d}"

    def _replayed(self, key: str, kind: type[M]) -> M | None:
        kept = self._keyed.get(key)
        return kept if isinstance(kept, kind) else None

    # CustomerPort

    async def create_customer(
        self, customer: BillingCustomerCreate, *, idempotency_key: str
    ) -> BillingCustomer:
        self.recorder.enter("create_customer", reference=customer.reference, key=idempotency_key)
        known = self._replayed(idempotency_key, BillingCustomer)
        if known is not None:
            return known
        created = BillingCustomer(
            id=self._next("cus"),
            reference=customer.reference,
            name=customer.name,
            email=customer.email,
            currency=customer.currency.lower(),
            created_at=self.now,
        )
        self.customers[created.id] = self._keyed[idempotency_key] = created
        return created

    async def get_customer(self, customer_id: str) -> BillingCustomer:
        self.recorder.enter("get_customer", customer_id=customer_id)
        customer = self.customers.get(customer_id)
        if customer is None:
            self.recorder.not_found("get_customer", f"no customer {customer_id}")
        return customer

    async def update_customer(
        self, customer_id: str, customer: BillingCustomerUpdate, *, idempotency_key: str
    ) -> BillingCustomer:
        self.recorder.enter("update_customer", customer_id=customer_id, key=idempotency_key)
        known = self.customers.get(customer_id)
        if known is None:
            self.recorder.not_found("update_customer", f"no customer {customer_id}")
        updated = known.model_copy(update={"name": customer.name, "email": customer.email})
        self.customers[customer_id] = updated
        return updated

    # InvoicePort

    def add_invoice(
        self,
        customer_id: str,
        amounts: list[tuple[int, int]],
        *,
        currency: str = "usd",
        status: BillingInvoiceStatus = BillingInvoiceStatus.OPEN,
        subscription_id: str | None = None,
        reference: str | None = None,
    ) -> BillingInvoice:
        """An invoice as billing would have issued it: one line per (amount, tax)."""
        lines = tuple(
            BillingInvoiceLine(
                description=f"line {number}",
                quantity=1,
                amount=amount,
                tax=tax,
                price_id=None,
                proration=False,
            )
            for number, (amount, tax) in enumerate(amounts, start=1)
        )
        subtotal, tax = sum(a for a, _ in amounts), sum(t for _, t in amounts)
        invoice = BillingInvoice(
            id=self._next("in"),
            customer_id=customer_id,
            currency=currency,
            status=status,
            subtotal=subtotal,
            tax=tax,
            total=subtotal + tax,
            amount_paid=subtotal + tax if status == BillingInvoiceStatus.PAID else 0,
            reference=reference,
            subscription_id=subscription_id,
            created_at=self.now,
            lines=lines,
        )
        self.invoices[invoice.id] = invoice
        return invoice

    def _invoice(self, operation: str, invoice_id: str) -> BillingInvoice:
        invoice = self.invoices.get(invoice_id)
        if invoice is None:
            self.recorder.not_found(operation, f"no invoice {invoice_id}")
        return invoice

    async def get_invoice(self, invoice_id: str) -> BillingInvoice:
        self.recorder.enter("get_invoice", invoice_id=invoice_id)
        return self._invoice("get_invoice", invoice_id)

    async def list_invoices(
        self, *, customer_id: str | None = None, limit: int = 20, cursor: str | None = None
    ) -> BillingPage:
        self.recorder.enter("list_invoices", customer_id=customer_id)
        found = [i for i in self.invoices.values() if customer_id in (None, i.customer_id)]
        start = int(cursor or 0)
        page = found[start : start + limit]
        more = start + limit < len(found)
        return BillingPage(invoices=tuple(page), next_cursor=str(start + limit) if more else None)

    async def pay_invoice(
        self, invoice_id: str, *, paid_out_of_band: bool = False, idempotency_key: str
    ) -> BillingInvoice:
        self.recorder.enter("pay_invoice", invoice_id=invoice_id, key=idempotency_key)
        invoice = self._invoice("pay_invoice", invoice_id)
        if invoice.status == BillingInvoiceStatus.VOID:
            self.recorder.refuse("pay_invoice", f"invoice {invoice_id} is void")
        paid = invoice.model_copy(
            update={
                "status": BillingInvoiceStatus.PAID,
                "amount_paid": invoice.total,
                "paid_at": self.now,
            }
        )
        self.invoices[invoice_id] = paid
        return paid

    async def void_invoice(self, invoice_id: str, *, idempotency_key: str) -> BillingInvoice:
        self.recorder.enter("void_invoice", invoice_id=invoice_id, key=idempotency_key)
        invoice = self._invoice("void_invoice", invoice_id)
        if invoice.status == BillingInvoiceStatus.VOID:
            return invoice
        if invoice.status != BillingInvoiceStatus.OPEN:
            self.recorder.refuse(
                "void_invoice", f"invoice {invoice_id} is {invoice.status}", vendor_code="invalid"
            )
        voided = invoice.model_copy(update={"status": BillingInvoiceStatus.VOID})
        self.invoices[invoice_id] = voided
        return voided

    # CatalogPort

    async def create_product(
        self, product: BillingProductCreate, *, idempotency_key: str
    ) -> BillingProduct:
        self.recorder.enter("create_product", reference=product.reference, key=idempotency_key)
        known = self._replayed(idempotency_key, BillingProduct)
        if known is not None:
            return known
        created = BillingProduct(
            id=self._next("prod"),
            reference=product.reference,
            name=product.name,
            active=True,
            created_at=self.now,
        )
        self.products[created.id] = self._keyed[idempotency_key] = created
        return created

    async def create_price(
        self, price: BillingPriceCreate, *, idempotency_key: str
    ) -> BillingPrice:
        self.recorder.enter("create_price", reference=price.reference, key=idempotency_key)
        known = self._replayed(idempotency_key, BillingPrice)
        if known is not None:
            return known
        if price.product_id not in self.products:
            self.recorder.not_found("create_price", f"no product {price.product_id}")
        created = BillingPrice(
            id=self._next("price"),
            reference=price.reference,
            product_id=price.product_id,
            currency=price.currency.lower(),
            unit_amount=price.unit_amount,
            interval=price.interval,
            interval_count=price.interval_count,
            active=True,
        )
        self.prices[created.id] = self._keyed[idempotency_key] = created
        return created

    async def get_price(self, price_id: str) -> BillingPrice:
        self.recorder.enter("get_price", price_id=price_id)
        price = self.prices.get(price_id)
        if price is None:
            self.recorder.not_found("get_price", f"no price {price_id}")
        return price

    async def list_prices(
        self, *, product_id: str | None = None, limit: int = 20, cursor: str | None = None
    ) -> BillingPricePage:
        self.recorder.enter("list_prices", product_id=product_id)
        found = [p for p in self.prices.values() if product_id in (None, p.product_id)]
        return BillingPricePage(prices=tuple(found[:limit]), next_cursor=None)

    # CatalogStreamPort

    async def stream_products(self) -> AsyncIterator[BillingProduct]:
        self.recorder.enter("stream_products")
        for product in list(self.products.values()):
            yield product

    async def stream_prices(self) -> AsyncIterator[BillingPrice]:
        self.recorder.enter("stream_prices")
        for price in list(self.prices.values()):
            yield price

    # SubscriptionPort

    def _item(self, operation: str, price_id: str, quantity: int) -> BillingSubscriptionItem:
        price = self.prices.get(price_id)
        if price is None:
            self.recorder.not_found(operation, f"no price {price_id}")
        return BillingSubscriptionItem(
            id=self._next("si"),
            price_id=price_id,
            quantity=quantity,
            unit_amount=price.unit_amount,
            currency=price.currency,
        )

    async def create_subscription(
        self, subscription: BillingSubscriptionCreate, *, idempotency_key: str
    ) -> BillingSubscription:
        self.recorder.enter(
            "create_subscription", reference=subscription.reference, key=idempotency_key
        )
        known = self._replayed(idempotency_key, BillingSubscription)
        if known is not None:
            return known
        if subscription.customer_id not in self.customers:
            self.recorder.not_found(
                "create_subscription", f"no customer {subscription.customer_id}"
            )
        items = tuple(
            self._item("create_subscription", item.price_id, item.quantity)
            for item in subscription.items
        )
        subscription_id = self._next("sub")
        invoice = self.add_invoice(
            subscription.customer_id,
            [((item.unit_amount or 0) * item.quantity, 0) for item in items],
            currency=items[0].currency,
            subscription_id=subscription_id,
        )
        created = BillingSubscription(
            id=subscription_id,
            reference=subscription.reference,
            customer_id=subscription.customer_id,
            status=BillingSubscriptionStatus.ACTIVE,
            items=items,
            current_period_start=self.now,
            current_period_end=self.now + PERIOD,
            cancel_at_period_end=False,
            canceled_at=None,
            latest_invoice_id=invoice.id,
        )
        self.subscriptions[created.id] = self._keyed[idempotency_key] = created
        return created

    def _subscription(self, operation: str, subscription_id: str) -> BillingSubscription:
        subscription = self.subscriptions.get(subscription_id)
        if subscription is None:
            self.recorder.not_found(operation, f"no subscription {subscription_id}")
        return subscription

    async def get_subscription(self, subscription_id: str) -> BillingSubscription:
        self.recorder.enter("get_subscription", subscription_id=subscription_id)
        return self._subscription("get_subscription", subscription_id)

    def _changed_items(
        self, current: BillingSubscription, change: BillingSubscriptionChange
    ) -> tuple[BillingSubscriptionItem, ...]:
        items = {item.id: item for item in current.items}
        for wanted in change.items:
            if wanted.item_id is None:
                added = self._item(
                    "change_subscription", wanted.price_id or "", wanted.quantity or 1
                )
                items[added.id] = added
                continue
            item = items.get(wanted.item_id)
            if item is None:
                self.recorder.not_found("change_subscription", f"no item {wanted.item_id}")
            if wanted.deleted:
                del items[item.id]
                continue
            price_id = wanted.price_id or item.price_id
            quantity = item.quantity if wanted.quantity is None else wanted.quantity
            replaced = self._item("change_subscription", price_id, quantity)
            items[item.id] = replaced.model_copy(update={"id": item.id})
        return tuple(items.values())

    def _prorations(
        self, current: BillingSubscription, items: tuple[BillingSubscriptionItem, ...]
    ) -> tuple[ProrationLine, ...]:
        def amount(item: BillingSubscriptionItem) -> int:
            return int((item.unit_amount or 0) * item.quantity * self.remaining)

        def line(item: BillingSubscriptionItem, sign: int, what: str) -> ProrationLine:
            tax = (amount(item) * self.proration_tax_bps + 5_000) // 10_000
            return ProrationLine(
                description=f"{what} {item.price_id}",
                amount=sign * amount(item),
                tax=sign * tax,
                quantity=item.quantity,
                price_id=item.price_id,
                subscription_item_id=item.id,
                period_start=self.now,
                period_end=current.current_period_end,
            )

        old = {item.id: item for item in current.items}
        lines: list[ProrationLine] = []
        for item in items:
            before = old.pop(item.id, None)
            if before == item:
                continue
            if before is not None:
                lines.append(line(before, -1, "Unused time on"))
            lines.append(line(item, 1, "Remaining time on"))
        lines.extend(line(gone, -1, "Unused time on") for gone in old.values())
        return tuple(lines)

    async def preview_subscription_change(
        self, subscription_id: str, change: BillingSubscriptionChange
    ) -> ProrationPreview:
        self.recorder.enter("preview_subscription_change", subscription_id=subscription_id)
        current = self._subscription("preview_subscription_change", subscription_id)
        items = self._changed_items(current, change)
        lines = self._prorations(current, items)
        total = sum(line.amount for line in lines)
        period = sum((item.unit_amount or 0) * item.quantity for item in items)
        return ProrationPreview(
            subscription_id=subscription_id,
            currency=current.items[0].currency,
            proration_date=change.proration_date or self.now if lines else None,
            period_start=current.current_period_start,
            period_end=current.current_period_end,
            lines=lines,
            total=total,
            tax=sum(line.tax for line in lines),
            next_invoice_total=period + total,
        )

    async def change_subscription(
        self, subscription_id: str, change: BillingSubscriptionChange, *, idempotency_key: str
    ) -> BillingSubscription:
        self.recorder.enter("change_subscription", subscription_id=subscription_id)
        known = self._replayed(idempotency_key, BillingSubscription)
        if known is not None:
            return known
        current = self._subscription("change_subscription", subscription_id)
        if current.status == BillingSubscriptionStatus.CANCELED:
            self.recorder.refuse("change_subscription", f"{subscription_id} is canceled")
        changed = current.model_copy(update={"items": self._changed_items(current, change)})
        self.subscriptions[subscription_id] = self._keyed[idempotency_key] = changed
        return changed

    async def cancel_subscription(
        self, subscription_id: str, *, prorate: bool = False, invoice_now: bool = False
    ) -> BillingSubscription:
        self.recorder.enter("cancel_subscription", subscription_id=subscription_id)
        current = self._subscription("cancel_subscription", subscription_id)
        if current.status == BillingSubscriptionStatus.CANCELED:
            self.recorder.not_found("cancel_subscription", f"no active {subscription_id}")
        canceled = current.model_copy(
            update={"status": BillingSubscriptionStatus.CANCELED, "canceled_at": self.now}
        )
        self.subscriptions[subscription_id] = canceled
        return canceled

    # UsagePort

    async def report_usage(
        self, subscription_item_id: str, report: BillingUsageReport, *, idempotency_key: str
    ) -> BillingUsageRecord:
        self.recorder.enter(
            "report_usage", item=subscription_item_id, quantity=report.quantity, key=idempotency_key
        )
        known = self._replayed(idempotency_key, BillingUsageRecord)
        if known is not None:
            return known
        owner = next(
            (
                s
                for s in self.subscriptions.values()
                for i in s.items
                if i.id == subscription_item_id
            ),
            None,
        )
        if owner is None:
            self.recorder.not_found("report_usage", f"no item {subscription_item_id}")
        if report.timestamp < owner.current_period_start:
            self.recorder.refuse("report_usage", "the timestamp's period was invoiced")
        record = BillingUsageRecord(
            id=self._next("mbur"),
            subscription_item_id=subscription_item_id,
            quantity=report.quantity,
            timestamp=report.timestamp,
        )
        self.usage.setdefault(subscription_item_id, {})[report.timestamp] = report.quantity
        self._keyed[idempotency_key] = record
        return record

    # CreditNotePort

    def _credit_note(self, credit_note: BillingCreditNoteCreate) -> BillingCreditNote:
        invoice = self._invoice("create_credit_note", credit_note.invoice_id)
        if invoice.status not in (BillingInvoiceStatus.OPEN, BillingInvoiceStatus.PAID):
            self.recorder.refuse("create_credit_note", f"invoice {invoice.id} is {invoice.status}")
        amount = credit_note.amount or sum(line.amount or 0 for line in credit_note.lines)
        credited = sum(
            note.total for note in self.credit_notes.values() if note.invoice_id == invoice.id
        )
        if amount > invoice.total - credited:
            self.recorder.refuse(
                "create_credit_note", f"{amount} is more than {invoice.id} has left to credit"
            )
        paid = invoice.status == BillingInvoiceStatus.PAID
        return BillingCreditNote(
            id=self._next("cn"),
            reference=credit_note.reference,
            number=f"CN-{len(self.credit_notes) + 1:04d}",
            invoice_id=invoice.id,
            customer_id=invoice.customer_id,
            currency=invoice.currency,
            type=BillingCreditNoteType.POST_PAYMENT if paid else BillingCreditNoteType.PRE_PAYMENT,
            status="issued",
            reason=credit_note.reason,
            memo=credit_note.memo,
            lines=(
                BillingCreditNoteLine(
                    id=self._next("cnli"),
                    invoice_line_id=None,
                    description=credit_note.memo,
                    quantity=1,
                    amount=amount,
                ),
            ),
            total=amount,
            created_at=self.now,
        )

    async def create_credit_note(
        self, credit_note: BillingCreditNoteCreate, *, idempotency_key: str
    ) -> BillingCreditNote:
        self.recorder.enter("create_credit_note", reference=credit_note.reference)
        known = self._replayed(idempotency_key, BillingCreditNote)
        if known is not None:
            return known
        created = self._credit_note(credit_note)
        self.credit_notes[created.id] = self._keyed[idempotency_key] = created
        return created

    async def preview_credit_note(self, credit_note: BillingCreditNoteCreate) -> BillingCreditNote:
        self.recorder.enter("preview_credit_note", reference=credit_note.reference)
        return self._credit_note(credit_note)

    async def get_credit_note(self, credit_note_id: str) -> BillingCreditNote:
        self.recorder.enter("get_credit_note", credit_note_id=credit_note_id)
        note = self.credit_notes.get(credit_note_id)
        if note is None:
            self.recorder.not_found("get_credit_note", f"no credit note {credit_note_id}")
        return note

    async def list_credit_notes(
        self, *, invoice_id: str | None = None, limit: int = 20, cursor: str | None = None
    ) -> BillingCreditNotePage:
        self.recorder.enter("list_credit_notes", invoice_id=invoice_id)
        found = [n for n in self.credit_notes.values() if invoice_id in (None, n.invoice_id)]
        return BillingCreditNotePage(credit_notes=tuple(found[:limit]), next_cursor=None)

    # DocumentStreamPort

    async def stream_invoices(
        self, *, created_from: datetime, created_to: datetime
    ) -> AsyncIterator[BillingInvoice]:
        self.recorder.enter("stream_invoices")
        for invoice in reversed(list(self.invoices.values())):
            if invoice.created_at is not None and created_from <= invoice.created_at <= created_to:
                yield invoice

    async def stream_credit_notes(
        self, *, created_from: datetime, created_to: datetime
    ) -> AsyncIterator[BillingCreditNote]:
        self.recorder.enter("stream_credit_notes")
        for note in reversed(list(self.credit_notes.values())):
            if created_from <= note.created_at <= created_to:
                yield note


# Statically checked: mypy fails here when the fake stops being a complete `BillingPort`.
_PORT: BillingPort = FakeBilling()
