"""Canonical ⇄ Stripe mapping, and the bracket-notation form encoder."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import unquote

import httpx
import pytest

from sandboxes.stripe import decode_form
from system_apis.billing.adapters.stripe import StripeCustomer, StripeInvoice, StripeList
from system_apis.billing.adapters.stripe_wire import StripeUpcomingInvoice
from system_apis.billing.mapping import (
    customer_create_params,
    customer_from_stripe,
    encode_form,
    invoice_from_stripe,
    invoice_page_from_stripe,
    list_invoices_params,
    pending_invoice_items,
    proration_preview_from_stripe,
    subscription_change_params,
)
from system_apis.billing.schemas import (
    BillingCustomerCreate,
    BillingInvoiceStatus,
    BillingSubscriptionChange,
    BillingSubscriptionItemChange,
    ProrationBehavior,
)


def wire(params: Mapping[str, object]) -> str:
    """The body httpx sends for `encode_form(params)`, brackets unescaped for reading."""
    request = httpx.Request("POST", "http://stripe.test/v1/x", data=encode_form(params))
    return unquote(request.content.decode())


def test_scalars_booleans_and_none() -> None:
    assert encode_form(
        {"name": "Acme", "amount": 100, "paid": True, "draft": False, "x": None}
    ) == {
        "name": "Acme",
        "amount": "100",
        "paid": "true",
        "draft": "false",
    }


def test_nested_dicts_use_brackets() -> None:
    params = {"metadata": {"ledgergate_id": "cus_1"}, "address": {"geo": {"lat": "1"}}}
    assert encode_form(params) == {
        "metadata[ledgergate_id]": "cus_1",
        "address[geo][lat]": "1",
    }


def test_lists_of_scalars_repeat_an_empty_bracket() -> None:
    assert wire({"expand": ["customer", "lines.data"]}) == "expand[]=customer&expand[]=lines.data"


def test_lists_of_dicts_are_numbered() -> None:
    params = {"lines": [{"amount": 1, "tax_rates": ["txr_1"]}, {"amount": 2}]}
    assert wire(params) == "lines[0][amount]=1&lines[0][tax_rates][]=txr_1&lines[1][amount]=2"


def test_order_is_kept_and_empty_containers_vanish() -> None:
    params = {"b": "1", "metadata": {}, "expand": [], "a": {"z": None, "y": "2"}}
    assert wire(params) == "b=1&a[y]=2"


def test_encoded_forms_decode_back_to_the_same_nesting() -> None:
    params = {
        "metadata": {"ledgergate_id": "cus_1", "note": "a&b=c [x]"},
        "expand": ["customer"],
        "lines": [{"amount": 5, "period": {"start": 1}}],
    }
    body = httpx.Request("POST", "http://stripe.test", data=encode_form(params)).content
    assert decode_form(body.decode()) == {
        "metadata": {"ledgergate_id": "cus_1", "note": "a&b=c [x]"},
        "expand": ["customer"],
        "lines": {"0": {"amount": "5", "period": {"start": "1"}}},
    }


def test_unencodable_values_are_refused() -> None:
    with pytest.raises(TypeError, match=r"amount=1\.5"):
        encode_form({"amount": 1.5})


def test_customer_create_params_carry_reference_and_currency_in_metadata() -> None:
    params = customer_create_params(
        BillingCustomerCreate(reference="cus_01j", name="Acme", email=None, currency="EUR")
    )
    assert encode_form(params) == {
        "name": "Acme",
        "metadata[ledgergate_id]": "cus_01j",
        "metadata[currency]": "eur",
    }


def test_list_params_leave_out_what_is_not_asked() -> None:
    params = list_invoices_params(customer_id=None, limit=5, cursor=None)
    assert encode_form(params) == {"limit": "5"}


def stripe_customer(**fields: object) -> StripeCustomer:
    base: dict[str, object] = {
        "id": "cus_X",
        "object": "customer",
        "created": 1_600_000_000,
        "livemode": False,
        "metadata": {"ledgergate_id": "cus_01j", "currency": "eur"},
    }
    return StripeCustomer.model_validate(base | fields)


def test_customer_from_stripe() -> None:
    customer = customer_from_stripe(stripe_customer(name="Acme", email="a@acme.test"))
    assert customer.id == "cus_X"
    assert customer.reference == "cus_01j"
    assert customer.currency == "EUR"
    assert customer.created_at == datetime(2020, 9, 13, 12, 26, 40, tzinfo=UTC)


def test_customer_currency_set_by_stripe_wins_over_metadata() -> None:
    assert customer_from_stripe(stripe_customer(currency="usd")).currency == "USD"
    assert customer_from_stripe(stripe_customer(metadata={})).currency is None


def stripe_invoice(invoice_id: str = "in_1", **fields: object) -> StripeInvoice:
    base: dict[str, object] = {
        "id": invoice_id,
        "object": "invoice",
        "customer": "cus_X",
        "currency": "usd",
        "status": "open",
        "subtotal": 1_000,
        "tax": None,
        "total": 1_000,
        "amount_paid": 0,
        "metadata": {},
    }
    return StripeInvoice.model_validate(base | fields)


def test_invoice_from_stripe() -> None:
    invoice = invoice_from_stripe(
        stripe_invoice(tax=190, total=1_190, metadata={"ledgergate_id": "inv_1"})
    )
    assert invoice.status is BillingInvoiceStatus.OPEN
    assert (invoice.currency, invoice.subtotal, invoice.tax, invoice.total) == (
        "USD",
        1_000,
        190,
        1_190,
    )
    assert invoice.reference == "inv_1"


@pytest.mark.parametrize(
    ("total", "starting_balance", "applied"),
    [
        (1_000, 0, 0),  # no balance
        (1_000, -300, 300),  # a credit takes part of the invoice
        (1_000, -1_500, 1_000),  # a larger credit pays it in full; the rest stays
        (1_000, 400, 0),  # a debit balance is owed besides: no credit taken
        (-500, -300, 0),  # a credit invoice takes none
    ],
)
def test_the_balance_applied_is_the_credit_the_invoice_took_up(
    total: int, starting_balance: int, applied: int
) -> None:
    invoice = invoice_from_stripe(stripe_invoice(total=total, starting_balance=starting_balance))
    assert invoice.balance_applied == applied


def test_an_invoice_without_a_starting_balance_took_no_credit() -> None:
    assert invoice_from_stripe(stripe_invoice()).balance_applied == 0


def test_invoice_without_tax_rates_has_zero_tax() -> None:
    assert invoice_from_stripe(stripe_invoice(tax=None, metadata=None)).tax == 0


@pytest.mark.parametrize(("has_more", "cursor"), [(True, "in_2"), (False, None)])
def test_page_cursor_is_the_last_id_only_when_there_is_more(
    has_more: bool, cursor: str | None
) -> None:
    page = StripeList[StripeInvoice](
        object="list",
        data=[stripe_invoice("in_1"), stripe_invoice("in_2")],
        has_more=has_more,
        url="/v1/invoices",
    )
    assert invoice_page_from_stripe(page).next_cursor == cursor


def upcoming_line(
    amount: int,
    start: int,
    *,
    proration: bool = True,
    item: str | None = None,
    taxes: tuple[tuple[int, bool], ...] = (),
) -> dict[str, object]:
    return {
        "id": f"il_tmp_{amount}",
        "object": "line_item",
        "amount": amount,
        "currency": "usd",
        "description": None,
        "invoice_item": item,
        "tax_amounts": [
            {"amount": tax, "inclusive": inclusive, "tax_rate": "txr_1"} for tax, inclusive in taxes
        ],
        "period": {"start": start, "end": 2_000},
        "proration": proration,
        "quantity": 1,
        "price": None,
        "type": "invoiceitem" if proration else "subscription",
    }


def upcoming_invoice(*lines: dict[str, object]) -> StripeUpcomingInvoice:
    return StripeUpcomingInvoice.model_validate(
        {
            "object": "invoice",
            "currency": "eur",
            "subscription": "sub_1",
            "period_start": 0,
            "period_end": 2_000,
            "total": 4_400,
            "subscription_proration_date": 1_500,
            "lines": {
                "object": "list",
                "has_more": False,
                "url": "/v1/invoices/upcoming/lines",
                "data": list(lines),
            },
        }
    )


def test_a_proration_preview_counts_only_the_lines_of_its_date() -> None:
    upcoming = upcoming_invoice(
        upcoming_line(-300, 1_000),  # an earlier change, still pending
        upcoming_line(-100, 1_500),
        upcoming_line(400, 1_500),
        upcoming_line(4_400, 2_000, proration=False),
    )

    preview = proration_preview_from_stripe("sub_1", upcoming)

    assert [line.amount for line in preview.lines] == [-100, 400]
    assert (preview.total, preview.next_invoice_total, preview.currency) == (300, 4_400, "EUR")
    assert preview.proration_date == datetime.fromtimestamp(1_500, UTC)


def test_a_proration_preview_leaves_out_items_pending_before_the_change() -> None:
    """An earlier change made within the same second: its items start at the same date."""
    upcoming = upcoming_invoice(
        upcoming_line(-200, 1_500, item="ii_earlier_credit"),
        upcoming_line(300, 1_500, item="ii_earlier_charge"),
        upcoming_line(-300, 1_500, item="ii_tmp_1"),
        upcoming_line(500, 1_500, item="ii_tmp_2"),
    )
    unchanged = upcoming_invoice(
        upcoming_line(-200, 1_500, item="ii_earlier_credit"),
        upcoming_line(300, 1_500, item="ii_earlier_charge"),
    )

    preview = proration_preview_from_stripe(
        "sub_1", upcoming, pending=pending_invoice_items(unchanged)
    )

    assert [line.amount for line in preview.lines] == [-300, 500]
    assert preview.total == 200


def test_a_proration_line_carries_billing_tax_and_its_amount_before_tax() -> None:
    upcoming = upcoming_invoice(
        upcoming_line(-100, 1_500, taxes=((-20, False),)),
        upcoming_line(480, 1_500, taxes=((80, True),)),  # inclusive: 400 before tax
    )

    preview = proration_preview_from_stripe("sub_1", upcoming)

    assert [(line.amount, line.tax) for line in preview.lines] == [(-100, -20), (400, 80)]
    assert (preview.total, preview.tax) == (300, 60)


def test_subscription_change_params_say_only_what_changes() -> None:
    change = BillingSubscriptionChange(
        items=(
            BillingSubscriptionItemChange(item_id="si_1", deleted=True),
            BillingSubscriptionItemChange(price_id="price_2", quantity=3),
        ),
        proration_behavior=ProrationBehavior.NONE,
        proration_date=datetime(2021, 1, 11),  # naive: taken as UTC
    )

    assert wire(subscription_change_params(change)) == (
        "items[0][id]=si_1&items[0][deleted]=true&items[1][price]=price_2&items[1][quantity]=3"
        "&proration_behavior=none&proration_date=1610323200"
    )


def _lines(has_more: bool) -> dict[str, object]:
    line = {
        "id": "il_1",
        "object": "line_item",
        "amount": 9_800,
        "currency": "usd",
        "description": "2 × Pro (at $49.00 / month)",
        "period": {"start": 1_700_000_000, "end": 1_702_592_000},
        "proration": False,
        "quantity": 2,
        "price": {
            "id": "price_1",
            "object": "price",
            "active": True,
            "currency": "usd",
            "product": "prod_1",
            "type": "recurring",
            "unit_amount": 4_900,
        },
        "tax_amounts": [{"amount": 300, "inclusive": False, "tax_rate": "txr_1"}],
        "type": "subscription",
    }
    return {"object": "list", "data": [line], "has_more": has_more, "url": "/v1/invoices/x/lines"}


def test_invoice_lines_are_kept_only_when_stripe_sent_all_of_them() -> None:
    complete = invoice_from_stripe(
        stripe_invoice(subscription="sub_1", due_date=1_702_592_000, lines=_lines(False))
    )
    assert (complete.subscription_id, str(complete.due_date)) == ("sub_1", "2023-12-14")
    assert complete.lines is not None
    [line] = complete.lines
    assert (line.quantity, line.amount, line.tax, line.price_id, line.proration) == (
        2,
        9_800,
        300,
        "price_1",
        False,
    )
    assert invoice_from_stripe(stripe_invoice(lines=_lines(True))).lines is None
    assert invoice_from_stripe(stripe_invoice()).lines is None
