"""The Stripe sandbox's credit notes: limits, their effect on the invoice, previews and lists."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sandboxes.stripe import StripeState
from system_apis.billing.mapping import encode_form
from tests.support.stripe_sandbox import create_customer, create_invoice, post


def error_of(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    return error


async def send(http: httpx.AsyncClient, params: dict[str, Any]) -> httpx.Response:
    return await http.post("/v1/credit_notes", data=encode_form(params))


async def invoice_of(http: httpx.AsyncClient, **kwargs: Any) -> dict[str, Any]:
    """A finalized invoice of two lines, 1000 and 500."""
    customer = await create_customer(http)
    return await create_invoice(http, customer["id"], amounts=(1_000, 500), **kwargs)


async def reread(http: httpx.AsyncClient, invoice: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = (await http.get(f"/v1/invoices/{invoice['id']}")).json()
    return body


async def test_pre_payment_credit_reduces_what_is_due(http: httpx.AsyncClient) -> None:
    invoice = await invoice_of(http, finalize=True)

    note = await post(
        http,
        "/v1/credit_notes",
        {
            "invoice": invoice["id"],
            "amount": 300,
            "reason": "order_change",
            "memo": "Goodwill",
            "metadata": {"ledgergate_id": "cm_01"},
        },
    )

    assert note["id"].startswith("cn_")
    assert (note["type"], note["status"], note["total"], note["reason"], note["memo"]) == (
        "pre_payment",
        "issued",
        300,
        "order_change",
        "Goodwill",
    )
    assert note["number"] == f"{invoice['number']}-CN-01"
    assert note["metadata"] == {"ledgergate_id": "cm_01"}
    after = await reread(http, invoice)
    assert (
        after["amount_due"],
        after["amount_remaining"],
        after["pre_payment_credit_notes_amount"],
    ) == (
        1_200,
        1_200,
        300,
    )
    assert after["status"] == "open"


async def test_crediting_all_that_remains_settles_the_invoice(http: httpx.AsyncClient) -> None:
    invoice = await invoice_of(http, finalize=True)

    await post(http, "/v1/credit_notes", {"invoice": invoice["id"], "amount": 1_500})

    after = await reread(http, invoice)
    assert (after["status"], after["amount_remaining"], after["amount_paid"]) == ("paid", 0, 0)


async def test_a_credit_larger_than_what_remains_is_refused(http: httpx.AsyncClient) -> None:
    invoice = await invoice_of(http, finalize=True)
    await post(http, "/v1/credit_notes", {"invoice": invoice["id"], "amount": 1_000})

    response = await send(http, {"invoice": invoice["id"], "amount": 501})

    assert response.status_code == 400
    assert (error_of(response)["code"], error_of(response)["param"]) == (
        "amount_too_large",
        "amount",
    )
    assert (await reread(http, invoice))["amount_remaining"] == 500


async def test_post_payment_credit_goes_to_the_customer_balance(http: httpx.AsyncClient) -> None:
    invoice = await invoice_of(http, pay=True)
    line = invoice["lines"]["data"][1]  # the 1000 line

    note = await post(
        http,
        "/v1/credit_notes",
        {
            "invoice": invoice["id"],
            "lines": [
                {"type": "invoice_line_item", "invoice_line_item": line["id"], "amount": 400}
            ],
        },
    )

    assert (note["type"], note["total"], note["customer_balance_transaction"] is not None) == (
        "post_payment",
        400,
        True,
    )
    [credited] = note["lines"]["data"]
    assert (credited["invoice_line_item"], credited["amount"]) == (line["id"], 400)
    after = await reread(http, invoice)
    assert (after["post_payment_credit_notes_amount"], after["amount_remaining"]) == (400, 0)
    customer = (await http.get(f"/v1/customers/{invoice['customer']}")).json()
    assert customer["balance"] == -400


async def test_post_payment_credit_out_of_band_leaves_the_balance(http: httpx.AsyncClient) -> None:
    invoice = await invoice_of(http, pay=True)

    note = await post(
        http,
        "/v1/credit_notes",
        {"invoice": invoice["id"], "amount": 100, "out_of_band_amount": 100},
    )
    uneven = await send(
        http,
        {"invoice": invoice["id"], "amount": 100, "out_of_band_amount": 40, "credit_amount": 40},
    )

    assert (note["out_of_band_amount"], note["customer_balance_transaction"]) == (100, None)
    customer = (await http.get(f"/v1/customers/{invoice['customer']}")).json()
    assert customer["balance"] == 0
    assert (uneven.status_code, error_of(uneven)["param"]) == (400, "credit_amount")


async def test_post_payment_credits_are_capped_by_the_invoice_total(
    http: httpx.AsyncClient,
) -> None:
    invoice = await invoice_of(http, pay=True)
    await post(http, "/v1/credit_notes", {"invoice": invoice["id"], "amount": 1_400})

    response = await send(http, {"invoice": invoice["id"], "amount": 101})

    assert error_of(response)["code"] == "amount_too_large"


async def test_a_line_cannot_be_credited_beyond_its_amount(http: httpx.AsyncClient) -> None:
    invoice = await invoice_of(http, pay=True)
    line = invoice["lines"]["data"][0]  # the 500 line
    credit = {"type": "invoice_line_item", "invoice_line_item": line["id"]}
    first = await post(http, "/v1/credit_notes", {"invoice": invoice["id"], "lines": [credit]})

    again = await send(http, {"invoice": invoice["id"], "lines": [credit | {"amount": 1}]})

    assert first["total"] == 500  # all that was left of the line
    assert (error_of(again)["code"], error_of(again)["param"]) == (
        "amount_too_large",
        "lines[0][amount]",
    )


async def test_custom_lines_and_quantities(http: httpx.AsyncClient) -> None:
    customer = await create_customer(http)
    await post(
        http,
        "/v1/invoiceitems",
        {"customer": customer["id"], "unit_amount": 250, "quantity": 4, "currency": "usd"},
    )
    invoice = await post(http, "/v1/invoices", {"customer": customer["id"]})
    invoice = await post(http, f"/v1/invoices/{invoice['id']}/finalize", {})
    line = invoice["lines"]["data"][0]

    note = await post(
        http,
        "/v1/credit_notes",
        {
            "invoice": invoice["id"],
            "lines": [
                {"type": "invoice_line_item", "invoice_line_item": line["id"], "quantity": 2},
                {"type": "custom_line_item", "description": "Late delivery", "unit_amount": 50},
            ],
        },
    )

    assert [(line["type"], line["quantity"], line["amount"]) for line in note["lines"]["data"]] == [
        ("invoice_line_item", 2, 500),
        ("custom_line_item", 1, 50),
    ]
    assert note["total"] == 550


@pytest.mark.parametrize(
    ("params", "code", "param"),
    [
        ({"amount": 1, "invoice": "in_nope"}, "resource_missing", "invoice"),
        ({}, "parameter_missing", "amount"),
        ({"amount": "lots"}, "parameter_invalid_integer", "amount"),
        ({"amount": 0}, "parameter_invalid_integer", "amount"),
        ({"amount": 1, "reason": "because"}, None, "reason"),
        ({"lines": [{"invoice_line_item": "il_nope"}]}, "parameter_missing", "lines[0][type]"),
        (
            {"lines": [{"type": "invoice_line_item", "invoice_line_item": "il_nope"}]},
            "resource_missing",
            "lines[0][invoice_line_item]",
        ),
        ({"amount": 1, "credit_amount": 1}, None, "credit_amount"),
        ({"amount": 1, "refund_amount": 1}, None, "refund_amount"),
    ],
)
async def test_credit_note_errors(
    http: httpx.AsyncClient, params: dict[str, Any], code: str | None, param: str
) -> None:
    invoice = await invoice_of(http, finalize=True)

    response = await send(http, {"invoice": invoice["id"]} | params)

    assert response.status_code == 400
    assert (error_of(response).get("code"), error_of(response)["param"]) == (code, param)


async def test_draft_invoices_cannot_be_credited(http: httpx.AsyncClient) -> None:
    invoice = await invoice_of(http)

    response = await send(http, {"invoice": invoice["id"], "amount": 1})

    assert (response.status_code, error_of(response)["param"]) == (400, "invoice")
    assert "finalized" in error_of(response)["message"]


async def test_preview_changes_nothing(http: httpx.AsyncClient, stripe_state: StripeState) -> None:
    invoice = await invoice_of(http, finalize=True)

    preview = (
        await http.get(
            "/v1/credit_notes/preview",
            params=encode_form({"invoice": invoice["id"], "amount": 300, "memo": "Goodwill"}),
        )
    ).json()
    too_much = await http.get(
        "/v1/credit_notes/preview", params={"invoice": invoice["id"], "amount": 2_000}
    )

    assert (preview["total"], preview["type"], preview["memo"]) == (300, "pre_payment", "Goodwill")
    assert stripe_state.credit_notes == {}
    assert (await reread(http, invoice))["amount_remaining"] == 1_500
    assert error_of(too_much)["code"] == "amount_too_large"


async def test_retrieve_and_list_by_invoice(http: httpx.AsyncClient) -> None:
    invoice = await invoice_of(http, finalize=True)
    other = await invoice_of(http, finalize=True)
    notes = [
        await post(http, "/v1/credit_notes", {"invoice": invoice["id"], "amount": 100})
        for _ in range(3)
    ]
    await post(http, "/v1/credit_notes", {"invoice": other["id"], "amount": 100})

    listed = (
        await http.get("/v1/credit_notes", params={"invoice": invoice["id"], "limit": 2})
    ).json()
    rest = (
        await http.get(
            "/v1/credit_notes",
            params={"invoice": invoice["id"], "starting_after": listed["data"][-1]["id"]},
        )
    ).json()
    missing = await http.get("/v1/credit_notes/cn_nope")

    assert [n["id"] for n in listed["data"] + rest["data"]] == [n["id"] for n in reversed(notes)]
    assert (listed["has_more"], rest["has_more"]) == (True, False)
    assert [n["number"][-5:] for n in notes] == ["CN-01", "CN-02", "CN-03"]
    assert (await http.get(f"/v1/credit_notes/{notes[0]['id']}")).json() == notes[0]
    assert (missing.status_code, error_of(missing)["code"]) == (404, "resource_missing")
