"""Credit notes: create, preview, retrieve, list."""

from __future__ import annotations

from sandboxes.stripe.charges import refund_charge
from sandboxes.stripe.events import emit
from sandboxes.stripe.invoices import mark_paid
from sandboxes.stripe.state import StripeState, list_page
from sandboxes.stripe.wire import Call, JsonObject, StripeApiError, new_object_id

CREDIT_NOTE_REASONS = ("duplicate", "fraudulent", "order_change", "product_unsatisfactory")


def _credited(state: StripeState, invoice_line_id: str) -> int:
    return sum(
        line["amount"]
        for note in state.credit_notes.values()
        if note["status"] == "issued"
        for line in note["lines"]["data"]
        if line.get("invoice_line_item") == invoice_line_id
    )


def _credit_note_line(state: StripeState, params: Call, invoice: JsonObject) -> JsonObject:
    params.check_known(
        frozenset({"type", "invoice_line_item", "quantity", "amount", "description", "unit_amount"})
    )
    type_ = params.choice("type", ("invoice_line_item", "custom_line_item"))
    if type_ is None:
        params.required_string("type")
    quantity = params.integer("quantity", minimum=1)
    line: JsonObject = {
        "id": new_object_id("cnli"),
        "object": "credit_note_line_item",
        "discount_amount": 0,
        "discount_amounts": [],
        "livemode": False,
        "tax_amounts": [],
        "tax_rates": [],
        "type": type_,
    }
    if type_ == "custom_line_item":
        unit_amount = params.integer("unit_amount", minimum=0)
        if unit_amount is None:
            params.required_string("unit_amount")
        assert unit_amount is not None  # `required_string` raised otherwise
        quantity = quantity or 1
        return line | {
            "amount": unit_amount * quantity,
            "description": params.required_string("description"),
            "quantity": quantity,
            "unit_amount": unit_amount,
            "unit_amount_decimal": str(unit_amount),
        }
    line_id = params.required_string("invoice_line_item")
    invoiced = next((i for i in invoice["lines"]["data"] if i["id"] == line_id), None)
    if invoiced is None:
        raise StripeApiError(
            400,
            f"No such invoice line item: '{line_id}' on invoice {invoice['id']}",
            code="resource_missing",
            param=params.name("invoice_line_item"),
        )
    amount = params.integer("amount", minimum=1)
    if amount is not None and quantity is not None:
        raise StripeApiError(
            400,
            "You may only specify one of these parameters: amount, quantity.",
            code="parameters_exclusive",
            param=params.name("amount"),
        )
    if quantity is not None:
        if quantity > (invoiced["quantity"] or 1) or invoiced["amount"] % (
            invoiced["quantity"] or 1
        ):
            raise StripeApiError(
                400,
                f"quantity must be at most the line's quantity ({invoiced['quantity']}).",
                param=params.name("quantity"),
            )
        amount = invoiced["amount"] // (invoiced["quantity"] or 1) * quantity
    left = invoiced["amount"] - _credited(state, line_id)
    amount = left if amount is None else amount
    if amount > left:
        raise StripeApiError(
            400,
            f"The credit for line {line_id} ({amount}) exceeds what is left to credit on it "
            f"({left}).",
            code="amount_too_large",
            param=params.name("amount"),
        )
    return line | {
        "amount": amount,
        "description": invoiced["description"],
        "invoice_line_item": line_id,
        "quantity": quantity,
        "unit_amount": None,
        "unit_amount_decimal": None,
    }


CREDIT_NOTE_PARAMS = frozenset(
    {
        "invoice",
        "amount",
        "lines",
        "reason",
        "memo",
        "metadata",
        "credit_amount",
        "out_of_band_amount",
        "refund_amount",
    }
)


def _draft_credit_note(state: StripeState, call: Call) -> tuple[JsonObject, JsonObject]:
    """The credit note `call` asks for and its invoice, checked; nothing is changed yet."""
    call.check_known(CREDIT_NOTE_PARAMS)
    invoice = state.invoice(call.required_string("invoice"), param="invoice")
    lines = [_credit_note_line(state, params, invoice) for params in call.objects("lines")]
    amount = call.integer("amount", minimum=1)
    reason = call.choice("reason", CREDIT_NOTE_REASONS)
    credit_amount = call.integer("credit_amount", minimum=0)
    out_of_band_amount = call.integer("out_of_band_amount", minimum=0)
    refund_amount = call.integer("refund_amount", minimum=0)
    if invoice["status"] not in ("open", "paid", "uncollectible"):
        raise StripeApiError(
            400,
            f"Credit notes can only be issued for finalized invoices; {invoice['id']} is "
            f"{invoice['status']}.",
            param="invoice",
        )
    if not lines and amount is None:
        raise StripeApiError(
            400,
            "Missing required param: amount or lines.",
            code="parameter_missing",
            param="amount",
        )
    total = sum(line["amount"] for line in lines) if lines else amount
    assert total is not None  # one of them was given
    if lines and amount is not None and amount != total:
        raise StripeApiError(
            400,
            f"The amount ({amount}) must equal the sum of the lines ({total}).",
            param="amount",
        )
    post_payment = invoice["status"] == "paid"
    # What is still owed, before payment; after it, the total (paid in money or from
    # the customer's balance) less what earlier credit notes took off it.
    creditable = (
        invoice["total"]
        - invoice["pre_payment_credit_notes_amount"]
        - invoice["post_payment_credit_notes_amount"]
        if post_payment
        else invoice["amount_remaining"]
    )
    if total > creditable:
        raise StripeApiError(
            400,
            f"The credit note total ({total}) exceeds the amount that can still be credited "
            f"on invoice {invoice['id']} ({creditable}).",
            code="amount_too_large",
            param="amount" if amount is not None else "lines",
        )
    if not post_payment and (credit_amount or out_of_band_amount or refund_amount):
        raise StripeApiError(
            400,
            "credit_amount, refund_amount and out_of_band_amount apply to paid invoices only.",
            param="credit_amount"
            if credit_amount
            else "refund_amount"
            if refund_amount
            else "out_of_band_amount",
        )
    if post_payment:
        if credit_amount is None and out_of_band_amount is None and refund_amount is None:
            credit_amount = total  # by default the credit goes to the customer's balance
        if (credit_amount or 0) + (out_of_band_amount or 0) + (refund_amount or 0) != total:
            raise StripeApiError(
                400,
                "The sum of credit_amount, refund_amount and out_of_band_amount must equal the "
                f"credit note total ({total}).",
                param="credit_amount",
            )
        charge = state.charges.get(invoice.get("charge") or "")
        if refund_amount and (
            charge is None or refund_amount > charge["amount"] - charge["amount_refunded"]
        ):
            raise StripeApiError(
                400,
                f"The refund_amount ({refund_amount}) is more than the invoice's charge can "
                "still refund.",
                param="refund_amount",
            )
    note_id = new_object_id("cn")
    sequence = 1 + sum(1 for n in state.credit_notes.values() if n["invoice"] == invoice["id"])
    note: JsonObject = {
        "id": note_id,
        "object": "credit_note",
        "amount": total,
        "created": state.clock(),
        "currency": invoice["currency"],
        "customer": invoice["customer"],
        "customer_balance_transaction": new_object_id("cbtxn") if credit_amount else None,
        "discount_amount": 0,
        "discount_amounts": [],
        "invoice": invoice["id"],
        "lines": {
            "object": "list",
            "data": lines,
            "has_more": False,
            "url": f"/v1/credit_notes/{note_id}/lines",
        },
        "livemode": False,
        "memo": call.string("memo"),
        "metadata": call.metadata(),
        "number": f"{invoice['number']}-CN-{sequence:02d}",
        "out_of_band_amount": out_of_band_amount,
        "refund_amount": refund_amount,
        "pdf": f"https://files.stripe.sandbox/credit_notes/{note_id}/pdf",
        "reason": reason,
        "refund": None,
        "status": "issued",
        "subtotal": total,
        "tax_amounts": [],
        "total": total,
        "type": "post_payment" if post_payment else "pre_payment",
        "voided_at": None,
    }
    return note, invoice


def create_credit_note(state: StripeState, call: Call) -> JsonObject:
    note, invoice = _draft_credit_note(state, call)
    if note["type"] == "pre_payment":
        invoice["pre_payment_credit_notes_amount"] += note["total"]
        invoice["amount_due"] -= note["total"]
        invoice["amount_remaining"] -= note["total"]
    else:
        invoice["post_payment_credit_notes_amount"] += note["total"]
        credited = note["total"] - (note["out_of_band_amount"] or 0) - (note["refund_amount"] or 0)
        state.customers[invoice["customer"]]["balance"] -= credited
        if note["refund_amount"]:
            refund = refund_charge(
                state, state.charges[invoice["charge"]], note["refund_amount"], reason=None
            )
            note["refund"] = refund["id"]
    state.credit_notes[note["id"]] = note
    emit(state, "credit_note.created", note)
    if invoice["status"] != "paid" and invoice["amount_remaining"] == 0:
        mark_paid(state, invoice, out_of_band=False)
    return note


def preview_credit_note(state: StripeState, call: Call) -> JsonObject:
    return _draft_credit_note(state, call)[0]


def retrieve_credit_note(state: StripeState, call: Call) -> JsonObject:
    call.check_known(frozenset())
    return state.credit_note(call.path["id"])


def list_credit_notes(state: StripeState, call: Call) -> JsonObject:
    call.check_known(frozenset({"invoice", "customer", "limit", "starting_after"}))
    invoice, customer = call.string("invoice"), call.string("customer")
    notes = [
        note
        for note in reversed(state.credit_notes.values())
        if invoice in (None, note["invoice"]) and customer in (None, note["customer"])
    ]
    return list_page(notes, call, url="/v1/credit_notes", kind="credit note")
