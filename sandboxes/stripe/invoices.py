"""Invoice items and invoices: create from pending items, finalize, collect, pay, retrieve, list."""

from __future__ import annotations

from sandboxes.stripe.charges import open_dispute, record_charge
from sandboxes.stripe.events import emit
from sandboxes.stripe.products import product_name
from sandboxes.stripe.state import StripeState, list_page
from sandboxes.stripe.wire import (
    ACCOUNT_COUNTRY,
    ACCOUNT_NAME,
    Call,
    JsonObject,
    StripeApiError,
    currency_param,
    new_object_id,
)

INVOICE_LINES_SHOWN = 10
DECLINED_PAYMENT_METHOD = "pm_card_chargeCustomerFail"
DISPUTED_PAYMENT_METHOD = "pm_card_createDispute"


def create_invoice_item(state: StripeState, call: Call) -> JsonObject:
    call.check_known(
        frozenset(
            {"customer", "amount", "unit_amount", "quantity", "currency", "description", "metadata"}
        ),
    )
    customer = state.customer(call.required_string("customer"), param="customer")
    amount, unit_amount, quantity = (
        call.integer("amount"),
        call.integer("unit_amount"),
        call.integer("quantity"),
    )
    if amount is not None and unit_amount is not None:
        raise StripeApiError(
            400,
            "You may only specify one of these parameters: amount, unit_amount.",
            param="amount",
        )
    if amount is not None and quantity is not None:
        raise StripeApiError(400, "quantity can only be used with unit_amount.", param="quantity")
    if amount is None and unit_amount is None:
        raise StripeApiError(
            400, "Missing required param: amount.", code="parameter_missing", param="amount"
        )
    if quantity is not None and quantity < 0:
        raise StripeApiError(400, "quantity must be a non-negative integer.", param="quantity")
    if unit_amount is not None:
        quantity = 1 if quantity is None else quantity
        amount = unit_amount * quantity
    else:
        quantity, unit_amount = 1, amount
    assert amount is not None  # the checks above leave one of the two set
    requested = call.string("currency")
    if requested is None and customer["currency"] is None:
        raise StripeApiError(
            400, "Missing required param: currency.", code="parameter_missing", param="currency"
        )
    currency = currency_param(requested, "currency") if requested else customer["currency"]
    if customer["currency"] not in (None, currency):
        raise StripeApiError(
            400,
            f"Customer {customer['id']} already uses {customer['currency']}; "
            f"an invoice item in {currency} cannot be added.",
            param="currency",
        )
    now = state.clock()
    item = new_invoice_item(
        state,
        customer_id=customer["id"],
        amount=amount,
        currency=currency,
        quantity=quantity,
        description=call.string("description"),
        period=(now, now),
        metadata=call.metadata(),
        unit_amount=unit_amount,
    )
    customer["currency"] = currency
    state.invoice_items[item["id"]] = item
    return item


def line_from_item(item: JsonObject) -> JsonObject:
    line: JsonObject = {
        "id": new_object_id("il"),
        "object": "line_item",
        "amount": item["amount"],
        "currency": item["currency"],
        "description": item["description"],
        "discount_amounts": [],
        "discountable": item["discountable"],
        "discounts": [],
        "invoice_item": item["id"],
        "livemode": False,
        "metadata": item["metadata"],
        "period": item["period"],
        "price": item["price"],
        "proration": item["proration"],
        "quantity": item["quantity"],
        "subscription": item["subscription"],
        "tax_amounts": [],
        "tax_rates": [],
        "type": "invoiceitem",
    }
    if "subscription_item" in item:
        line["subscription_item"] = item["subscription_item"]
    return line


def subscription_line(
    state: StripeState, subscription: JsonObject, item: JsonObject, period: tuple[int, int]
) -> JsonObject:
    """The line billing one subscription item for one whole period, in advance."""
    price = item["price"]
    return {
        "id": new_object_id("sli"),
        "object": "line_item",
        "amount": price["unit_amount"] * item["quantity"],
        "currency": price["currency"],
        "description": f"{item['quantity']} × {product_name(state, price)}",
        "discount_amounts": [],
        "discountable": True,
        "discounts": [],
        "livemode": False,
        "metadata": {},
        "period": {"start": period[0], "end": period[1]},
        "price": price,
        "proration": False,
        "quantity": item["quantity"],
        "subscription": subscription["id"],
        "subscription_item": item["id"],
        "tax_amounts": [],
        "tax_rates": [],
        "type": "subscription",
    }


def pending_items(
    state: StripeState, customer_id: str, *, subscription_id: str | None = None
) -> list[JsonObject]:
    """Uninvoiced items, newest first: the customer's own and those of `subscription_id`."""
    return [
        item
        for item in reversed(state.invoice_items.values())
        if item["customer"] == customer_id
        and item["invoice"] is None
        and item["subscription"] in (None, subscription_id)
    ]


def new_invoice(
    state: StripeState,
    customer: JsonObject,
    *,
    lines: list[JsonObject],
    billing_reason: str,
    subscription: JsonObject | None = None,
    collection_method: str = "charge_automatically",
    days_until_due: int | None = None,
    auto_advance: bool = True,
    description: str | None = None,
    metadata: dict[str, str] | None = None,
    period: tuple[int, int] | None = None,
) -> JsonObject:
    """A draft invoice of `lines` (not stored: callers store it or answer it as a preview)."""
    invoice_id = new_object_id("in")
    now = state.clock()
    subtotal = sum(line["amount"] for line in lines)
    period_start, period_end = period or (now, now)
    return {
        "id": invoice_id,
        "object": "invoice",
        "account_country": ACCOUNT_COUNTRY,
        "account_name": ACCOUNT_NAME,
        "account_tax_ids": None,
        "amount_due": subtotal,
        "amount_paid": 0,
        "amount_remaining": subtotal,
        "application_fee_amount": None,
        "attempt_count": 0,
        "attempted": False,
        "auto_advance": auto_advance,
        "automatic_tax": {"enabled": False, "status": None},
        "billing_reason": billing_reason,
        "charge": None,
        "collection_method": collection_method,
        "created": now,
        "currency": lines[0]["currency"],
        "custom_fields": None,
        "customer": customer["id"],
        "customer_address": customer["address"],
        "customer_email": customer["email"],
        "customer_name": customer["name"],
        "customer_phone": customer["phone"],
        "customer_shipping": customer["shipping"],
        "customer_tax_exempt": customer["tax_exempt"],
        "customer_tax_ids": [],
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": description,
        "discount": None,
        "discounts": [],
        "due_date": None if days_until_due is None else now + days_until_due * 86_400,
        "ending_balance": None,
        "footer": None,
        "hosted_invoice_url": None,
        "invoice_pdf": None,
        "last_finalization_error": None,
        "lines": {
            "object": "list",
            "data": lines[:INVOICE_LINES_SHOWN],
            "has_more": len(lines) > INVOICE_LINES_SHOWN,
            "url": f"/v1/invoices/{invoice_id}/lines",
        },
        "livemode": False,
        "metadata": metadata or {},
        "next_payment_attempt": None,
        "number": None,
        "on_behalf_of": None,
        "paid": False,
        "paid_out_of_band": False,
        "payment_intent": None,
        "payment_settings": {"payment_method_options": None, "payment_method_types": None},
        "period_end": period_end,
        "period_start": period_start,
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "receipt_number": None,
        "starting_balance": 0,
        "statement_descriptor": None,
        "status": "draft",
        "status_transitions": {
            "finalized_at": None,
            "marked_uncollectible_at": None,
            "paid_at": None,
            "voided_at": None,
        },
        "subscription": None if subscription is None else subscription["id"],
        "subtotal": subtotal,
        "tax": None,
        "total": subtotal,
        "total_discount_amounts": [],
        "total_tax_amounts": [],
        "transfer_data": None,
        "webhooks_delivered_at": None,
    }


def store_invoice(state: StripeState, invoice: JsonObject, items: list[JsonObject]) -> None:
    for item in items:
        item["invoice"] = invoice["id"]
    state.invoices[invoice["id"]] = invoice


def create_invoice(state: StripeState, call: Call) -> JsonObject:
    call.check_known(
        frozenset(
            {
                "customer",
                "collection_method",
                "auto_advance",
                "days_until_due",
                "description",
                "metadata",
            }
        ),
    )
    customer = state.customer(call.required_string("customer"), param="customer")
    collection_method = (
        call.choice("collection_method", ("charge_automatically", "send_invoice"))
        or "charge_automatically"
    )
    days_until_due = days_until_due_param(call, collection_method)
    auto_advance = call.boolean("auto_advance")
    metadata = call.metadata()
    description = call.string("description")
    # Without `subscription`, Stripe invoices every pending item of the customer.
    pending = [
        item
        for item in reversed(state.invoice_items.values())
        if item["customer"] == customer["id"] and item["invoice"] is None
    ]
    if not pending:
        raise StripeApiError(
            400, "Nothing to invoice for customer", code="invoice_no_customer_line_items"
        )
    invoice = new_invoice(
        state,
        customer,
        lines=[line_from_item(item) for item in pending],
        billing_reason="manual",
        collection_method=collection_method,
        days_until_due=days_until_due,
        auto_advance=True if auto_advance is None else auto_advance,
        description=description,
        metadata=metadata,
    )
    store_invoice(state, invoice, pending)
    return invoice


def days_until_due_param(call: Call, collection_method: str) -> int | None:
    days_until_due = call.integer("days_until_due", minimum=0)
    if collection_method == "send_invoice" and days_until_due is None:
        raise StripeApiError(
            400,
            "Missing required param: days_until_due.",
            code="parameter_missing",
            param="days_until_due",
        )
    if collection_method == "charge_automatically" and days_until_due is not None:
        raise StripeApiError(
            400,
            "Can't set days_until_due when collection_method is charge_automatically.",
            param="days_until_due",
        )
    return days_until_due


def _finalize(state: StripeState, invoice: JsonObject) -> None:
    """Number the invoice and apply the customer's balance (negative: credit) to it."""
    customer = state.customers[invoice["customer"]]
    now = state.clock()
    invoice["number"] = f"{customer['invoice_prefix']}-{customer['next_invoice_sequence']:04d}"
    customer["next_invoice_sequence"] += 1
    applied = invoice["total"] + customer["balance"]
    invoice.update(
        status="open",
        starting_balance=customer["balance"],
        ending_balance=min(0, applied),
        amount_due=max(0, applied),
        amount_remaining=max(0, applied),
    )
    customer["balance"] = min(0, applied)
    invoice["status_transitions"]["finalized_at"] = now
    emit(state, "invoice.finalized", invoice)
    if invoice["amount_due"] == 0:
        mark_paid(state, invoice, out_of_band=False)


def mark_paid(state: StripeState, invoice: JsonObject, *, out_of_band: bool) -> None:
    invoice.update(
        status="paid",
        paid=True,
        paid_out_of_band=out_of_band,
        amount_paid=invoice["amount_due"],
        amount_remaining=0,
    )
    invoice["status_transitions"]["paid_at"] = state.clock()
    if not out_of_band and invoice["amount_due"] > 0:
        invoice["attempted"] = True
        invoice["attempt_count"] += 1
        invoice["charge"] = record_charge(state, invoice)
    emit(state, "invoice.paid", invoice)
    _subscription_status(state, invoice, "past_due", "active")


def _subscription_status(state: StripeState, invoice: JsonObject, before: str, after: str) -> None:
    """As Stripe does, a subscription whose renewal or update invoice's payment failed turns
    `past_due`, and `active` again once that invoice is paid (`customer.subscription.updated`
    each time)."""
    if invoice["billing_reason"] == "subscription_create":
        return  # Stripe's `incomplete` first payment is not modelled: it stays as it is
    subscription = state.subscriptions.get(invoice["subscription"] or "")
    if subscription is None or subscription["status"] != before:
        return
    if subscription["latest_invoice"] != invoice["id"]:
        return
    subscription["status"] = after
    emit(state, "customer.subscription.updated", subscription, {"status": before})


def _charge(state: StripeState, invoice: JsonObject) -> bool:
    """Charge the customer's default payment method; False when it is declined.

    Stripe's test payment methods decide: `pm_card_chargeCustomerFail` is declined
    (`invoice.payment_failed`, the invoice stays open), `pm_card_createDispute` pays and
    is then disputed (`charge.dispute.created`); any other, or none, pays.
    """
    customer = state.customers[invoice["customer"]]
    method = customer["invoice_settings"]["default_payment_method"]
    if method == DECLINED_PAYMENT_METHOD:
        invoice["attempted"] = True
        invoice["attempt_count"] += 1
        emit(state, "invoice.payment_failed", invoice)
        _subscription_status(state, invoice, "active", "past_due")
        return False
    mark_paid(state, invoice, out_of_band=False)
    if method == DISPUTED_PAYMENT_METHOD and invoice["charge"] is not None:
        open_dispute(state, state.charges[invoice["charge"]])
    return True


def collect(state: StripeState, invoice: JsonObject) -> None:
    """Finalize; charge automatically collected invoices."""
    _finalize(state, invoice)
    if invoice["status"] == "open" and invoice["collection_method"] == "charge_automatically":
        _charge(state, invoice)


def finalize_invoice(state: StripeState, call: Call) -> JsonObject:
    call.check_known(frozenset({"auto_advance"}))
    invoice = state.invoice(call.path["invoice"])
    auto_advance = call.boolean("auto_advance")
    if invoice["status"] != "draft":
        raise StripeApiError(
            400, "This invoice is already finalized, you can't re-finalize a non-draft invoice."
        )
    if auto_advance is not None:
        invoice["auto_advance"] = auto_advance
    _finalize(state, invoice)
    return invoice


def pay_invoice(state: StripeState, call: Call) -> JsonObject:
    call.check_known(frozenset({"paid_out_of_band"}))
    invoice = state.invoice(call.path["invoice"])
    out_of_band = bool(call.boolean("paid_out_of_band"))
    if invoice["status"] == "paid":
        raise StripeApiError(400, "Invoice is already paid")
    if invoice["status"] == "void":
        raise StripeApiError(400, "You cannot pay a void invoice.")
    if invoice["status"] == "draft":
        _finalize(state, invoice)
    if invoice["status"] == "paid":
        return invoice
    if out_of_band:
        mark_paid(state, invoice, out_of_band=True)
    elif not _charge(state, invoice):
        raise StripeApiError(
            402, "Your card was declined.", type_="card_error", code="card_declined"
        )
    return invoice


def void_invoice(state: StripeState, call: Call) -> JsonObject:
    """Void a finalized invoice that is still open; paid, draft and void ones are refused."""
    call.check_known(frozenset())
    invoice = state.invoice(call.path["invoice"])
    if invoice["status"] != "open":
        raise StripeApiError(
            400, f"You can only void open invoices; this invoice is {invoice['status']}."
        )
    invoice["status"] = "void"
    invoice["status_transitions"]["voided_at"] = state.clock()
    emit(state, "invoice.voided", invoice)
    return invoice


def retrieve_invoice(state: StripeState, call: Call) -> JsonObject:
    call.check_known(frozenset())
    return state.invoice(call.path["invoice"])


def list_invoices(state: StripeState, call: Call) -> JsonObject:
    call.check_known(frozenset({"customer", "status", "subscription", "limit", "starting_after"}))
    customer = call.string("customer")
    status = call.choice("status", ("draft", "open", "paid", "uncollectible", "void"))
    subscription = call.string("subscription")
    invoices = [
        invoice
        for invoice in reversed(state.invoices.values())
        if customer in (None, invoice["customer"])
        and status in (None, invoice["status"])
        and subscription in (None, invoice["subscription"])
    ]
    return list_page(invoices, call, url="/v1/invoices", kind="invoice")


def new_invoice_item(
    state: StripeState,
    *,
    customer_id: str,
    amount: int,
    currency: str,
    quantity: int,
    description: str | None,
    period: tuple[int, int],
    price: JsonObject | None = None,
    subscription: tuple[str, str] | None = None,
    metadata: dict[str, str] | None = None,
    unit_amount: int | None = None,
) -> JsonObject:
    """An invoice item; with `subscription` (its id and item id) a proration item."""
    item: JsonObject = {
        "id": new_object_id("ii"),
        "object": "invoiceitem",
        "amount": amount,
        "currency": currency,
        "customer": customer_id,
        "date": state.clock(),
        "description": description,
        "discountable": subscription is None,
        "discounts": [],
        "invoice": None,
        "livemode": False,
        "metadata": metadata or {},
        "period": {"start": period[0], "end": period[1]},
        "price": price,
        "proration": subscription is not None,
        "quantity": quantity,
        "subscription": None if subscription is None else subscription[0],
        "tax_rates": [],
        "unit_amount": unit_amount,
        "unit_amount_decimal": None if unit_amount is None else str(unit_amount),
    }
    if subscription is not None:
        item["subscription_item"] = subscription[1]
    return item
