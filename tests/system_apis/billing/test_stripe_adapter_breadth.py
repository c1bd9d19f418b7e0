"""`StripeAdapter`'s catalog, subscription, proration and credit note methods, on a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import unquote

import httpx
import pytest
from pydantic import ValidationError

from sandboxes.stripe import ManualClock, StripeState
from system_apis.billing.adapters.stripe import StripeAdapter
from system_apis.billing.schemas import (
    BillingCreditNoteCreate,
    BillingCreditNoteLineCreate,
    BillingCreditNoteType,
    BillingInterval,
    BillingInvoiceStatus,
    BillingPriceCreate,
    BillingProductCreate,
    BillingSubscription,
    BillingSubscriptionChange,
    BillingSubscriptionCreate,
    BillingSubscriptionItemChange,
    BillingSubscriptionItemCreate,
    BillingSubscriptionStatus,
    CreditNoteReason,
    ProrationBehavior,
)
from system_apis.errors import BackendBusinessError, BackendNotFound
from tests.support.recording import RecordingTransport
from tests.support.stripe_sandbox import DAY, JAN_1_2021, create_customer, create_invoice

FEB_1_2021 = JAN_1_2021 + 31 * DAY


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(JAN_1_2021)


@pytest.fixture
def stripe_state(clock: ManualClock) -> StripeState:
    return StripeState(clock=clock)


async def catalog(adapter: StripeAdapter) -> tuple[str, str]:
    """A product with a 30.00 and a 60.00 monthly price, in USD."""
    product = await adapter.create_product(
        BillingProductCreate(reference="prd_01", name="Ledgergate"), idempotency_key="prod"
    )
    prices = [
        await adapter.create_price(
            BillingPriceCreate(
                product_id=product.id,
                currency="USD",
                unit_amount=amount,
                interval=BillingInterval.MONTH,
            ),
            idempotency_key=f"price-{amount}",
        )
        for amount in (3000, 6000)
    ]
    return prices[0].id, prices[1].id


async def subscribe(adapter: StripeAdapter, http: httpx.AsyncClient) -> BillingSubscription:
    basic, _ = await catalog(adapter)
    customer = await create_customer(http)
    return await adapter.create_subscription(
        BillingSubscriptionCreate(
            reference="sub_01",
            customer_id=customer["id"],
            items=(BillingSubscriptionItemCreate(price_id=basic),),
        ),
        idempotency_key="sub",
    )


async def test_products_and_prices(adapter: StripeAdapter, recording: RecordingTransport) -> None:
    product = await adapter.create_product(
        BillingProductCreate(reference="prd_01", name="Ledgergate"), idempotency_key="prod"
    )
    price = await adapter.create_price(
        BillingPriceCreate(
            reference="prc_01",
            product_id=product.id,
            currency="EUR",
            unit_amount=30000,
            interval=BillingInterval.YEAR,
        ),
        idempotency_key="price",
    )
    one_time = await adapter.create_price(
        BillingPriceCreate(product_id=product.id, currency="EUR", unit_amount=500),
        idempotency_key="price-2",
    )

    assert (product.reference, product.name, product.active) == ("prd_01", "Ledgergate", True)
    assert (price.reference, price.currency, price.unit_amount, price.interval) == (
        "prc_01",
        "EUR",
        30000,
        BillingInterval.YEAR,
    )
    assert (one_time.interval, one_time.interval_count) == (None, None)
    assert await adapter.get_price(price.id) == price
    first = await adapter.list_prices(product_id=product.id, limit=1)
    rest = await adapter.list_prices(product_id=product.id, cursor=first.next_cursor)
    assert [p.id for p in first.prices + rest.prices] == [one_time.id, price.id]
    assert rest.next_cursor is None
    body = unquote(recording.exchanges[1].request_body.decode())
    assert body == (
        f"product={product.id}&currency=eur&unit_amount=30000&recurring[interval]=year"
        "&recurring[interval_count]=1&metadata[ledgergate_id]=prc_01"
    )


async def test_create_and_get_a_subscription(
    adapter: StripeAdapter, http: httpx.AsyncClient
) -> None:
    subscription = await subscribe(adapter, http)

    assert (subscription.reference, subscription.status) == (
        "sub_01",
        BillingSubscriptionStatus.ACTIVE,
    )
    assert (subscription.current_period_start, subscription.current_period_end) == (
        at(JAN_1_2021),
        at(FEB_1_2021),
    )
    [item] = subscription.items
    assert (item.quantity, item.unit_amount, item.currency) == (1, 3000, "USD")
    first = await adapter.get_invoice(subscription.latest_invoice_id or "")
    assert (first.status, first.total) == (BillingInvoiceStatus.PAID, 3000)
    assert await adapter.get_subscription(subscription.id) == subscription


async def test_preview_then_change_prorate_the_same_amounts(
    adapter: StripeAdapter,
    http: httpx.AsyncClient,
    clock: ManualClock,
    recording: RecordingTransport,
) -> None:
    subscription = await subscribe(adapter, http)
    _, pro = await catalog(adapter)
    clock.advance(10 * DAY)
    change = BillingSubscriptionChange(
        items=(
            BillingSubscriptionItemChange(
                item_id=subscription.items[0].id, price_id=pro, quantity=2
            ),
        ),
    )

    preview = await adapter.preview_subscription_change(subscription.id, change)
    clock.advance(3600)  # the change is applied later, at the previewed date
    changed = await adapter.change_subscription(
        subscription.id,
        change.model_copy(update={"proration_date": preview.proration_date}),
        idempotency_key="chg",
    )
    clock.now = FEB_1_2021
    renewal = await adapter.get_invoice(
        (await adapter.get_subscription(subscription.id)).latest_invoice_id or ""
    )

    assert preview.proration_date == at(JAN_1_2021 + 10 * DAY)
    assert [(line.amount, line.quantity, line.period_end) for line in preview.lines] == [
        (-2032, 1, at(FEB_1_2021)),
        (8129, 2, at(FEB_1_2021)),
    ]
    assert [line.price_id for line in preview.lines] == [subscription.items[0].price_id, pro]
    assert (preview.total, preview.next_invoice_total, preview.currency) == (6097, 18097, "USD")
    assert (preview.period_start, preview.period_end) == (at(JAN_1_2021), at(FEB_1_2021))
    assert changed.items[0].price_id == pro
    assert renewal.total == preview.next_invoice_total
    unchanged, upcoming = (
        e for e in recording.exchanges if e.request.url.path == "/v1/invoices/upcoming"
    )
    assert unquote(unchanged.request.url.query.decode()) == f"subscription={subscription.id}"
    query = unquote(upcoming.request.url.query.decode())
    assert query == (
        f"subscription={subscription.id}&subscription_items[0][id]={subscription.items[0].id}"
        f"&subscription_items[0][price]={pro}&subscription_items[0][quantity]=2"
        "&subscription_proration_behavior=create_prorations"
    )


async def test_a_preview_without_prorations(
    adapter: StripeAdapter, http: httpx.AsyncClient
) -> None:
    subscription = await subscribe(adapter, http)
    change = BillingSubscriptionChange(
        items=(BillingSubscriptionItemChange(item_id=subscription.items[0].id, quantity=1),),
    )

    preview = await adapter.preview_subscription_change(subscription.id, change)

    assert (preview.proration_date, preview.lines, preview.total) == (None, (), 0)
    assert preview.next_invoice_total == 3000


async def test_always_invoice_and_cancel(
    adapter: StripeAdapter,
    http: httpx.AsyncClient,
    clock: ManualClock,
    recording: RecordingTransport,
) -> None:
    subscription = await subscribe(adapter, http)
    clock.advance(10 * DAY)

    changed = await adapter.change_subscription(
        subscription.id,
        BillingSubscriptionChange(
            items=(BillingSubscriptionItemChange(item_id=subscription.items[0].id, quantity=2),),
            proration_behavior=ProrationBehavior.ALWAYS_INVOICE,
        ),
        idempotency_key="chg",
    )
    canceled = await adapter.cancel_subscription(subscription.id, prorate=True)
    with pytest.raises(BackendNotFound) as caught:
        await adapter.cancel_subscription(subscription.id)

    invoice = await adapter.get_invoice(changed.latest_invoice_id or "")
    assert (invoice.status, invoice.total) == (BillingInvoiceStatus.PAID, -2032 + 4065)
    assert (canceled.status, canceled.canceled_at) == (
        BillingSubscriptionStatus.CANCELED,
        at(JAN_1_2021 + 10 * DAY),
    )
    assert caught.value.vendor_code == "resource_missing"
    deletes = [e.request_body for e in recording.exchanges if e.request.method == "DELETE"]
    assert deletes == [b"prorate=true&invoice_now=false", b"prorate=false&invoice_now=false"]


async def test_an_unknown_item_is_refused_with_stripes_code(
    adapter: StripeAdapter, http: httpx.AsyncClient
) -> None:
    subscription = await subscribe(adapter, http)
    change = BillingSubscriptionChange(
        items=(BillingSubscriptionItemChange(item_id="si_missing", quantity=2),)
    )

    with pytest.raises(BackendBusinessError) as caught:
        await adapter.change_subscription(subscription.id, change, idempotency_key="chg")

    assert (caught.value.vendor_status, caught.value.vendor_code) == (400, "resource_missing")


async def test_pay_invoice(adapter: StripeAdapter, http: httpx.AsyncClient) -> None:
    customer = await create_customer(http)
    seeded = await create_invoice(http, customer["id"], amounts=(700,), finalize=True)

    paid = await adapter.pay_invoice(seeded["id"], idempotency_key="pay")
    again = await adapter.pay_invoice(seeded["id"], idempotency_key="pay")

    assert (paid.status, paid.amount_paid) == (BillingInvoiceStatus.PAID, 700)
    assert again == paid
    with pytest.raises(BackendBusinessError):
        await adapter.pay_invoice(seeded["id"], idempotency_key="pay-again")


async def test_credit_notes(adapter: StripeAdapter, http: httpx.AsyncClient) -> None:
    customer = await create_customer(http)
    invoice = await create_invoice(http, customer["id"], amounts=(700, 300), pay=True)
    line = invoice["lines"]["data"][1]  # the 700 line
    request = BillingCreditNoteCreate(
        reference="cm_01",
        invoice_id=invoice["id"],
        lines=(BillingCreditNoteLineCreate(invoice_line_id=line["id"], amount=200),),
        reason=CreditNoteReason.ORDER_CHANGE,
        memo="Two seats fewer",
    )

    preview = await adapter.preview_credit_note(request)
    note = await adapter.create_credit_note(request, idempotency_key="cn")
    replayed = await adapter.create_credit_note(request, idempotency_key="cn")

    assert (preview.total, preview.type) == (200, BillingCreditNoteType.POST_PAYMENT)
    assert (note.reference, note.total, note.reason, note.memo) == (
        "cm_01",
        200,
        CreditNoteReason.ORDER_CHANGE,
        "Two seats fewer",
    )
    assert [(n.invoice_line_id, n.amount) for n in note.lines] == [(line["id"], 200)]
    assert replayed == note
    assert await adapter.get_credit_note(note.id) == note
    page = await adapter.list_credit_notes(invoice_id=invoice["id"])
    assert ([n.id for n in page.credit_notes], page.next_cursor) == ([note.id], None)
    with pytest.raises(BackendBusinessError) as caught:
        await adapter.create_credit_note(
            BillingCreditNoteCreate(invoice_id=invoice["id"], amount=801), idempotency_key="cn-2"
        )
    assert caught.value.vendor_code == "amount_too_large"


@pytest.mark.parametrize(
    "fields",
    [{}, {"deleted": True}, {"item_id": "si_1", "deleted": True, "quantity": 2}],
    ids=["new-without-price", "new-deleted", "deleted-with-quantity"],
)
def test_item_changes_must_make_sense(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        BillingSubscriptionItemChange.model_validate(fields)


@pytest.mark.parametrize(
    "fields",
    [
        {"invoice_id": "in_1"},
        {"invoice_id": "in_1", "lines": [{"invoice_line_id": "il_1", "unit_amount": 5}]},
        {"invoice_id": "in_1", "lines": [{"description": "x"}]},
        {"invoice_id": "in_1", "amount": 0},
    ],
    ids=["nothing", "invoice-line-with-unit-amount", "custom-without-amount", "zero"],
)
def test_credit_note_requests_must_make_sense(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        BillingCreditNoteCreate.model_validate(fields)
