"""The Stripe sandbox's rules, over HTTP: auth, errors, idempotency, lists, invoices."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sandboxes.stripe import StripeApiError, StripeState, decode_form
from system_apis.billing.mapping import encode_form
from tests.support.stripe_sandbox import create_customer, create_invoice, post


def error_of(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    return error


async def send(
    http: httpx.AsyncClient, path: str, params: dict[str, Any], **headers: str
) -> httpx.Response:
    return await http.post(path, data=encode_form(params), headers=headers)


# --- form decoding -----------------------------------------------------------------


def test_decode_form_nests_brackets() -> None:
    raw = "a=1&m[k]=v&m[e]=&x[]=p&x[]=q&l[0][amount]=5&l[1][d][n]=7"
    assert decode_form(raw) == {
        "a": "1",
        "m": {"k": "v", "e": ""},
        "x": ["p", "q"],
        "l": {"0": {"amount": "5"}, "1": {"d": {"n": "7"}}},
    }


@pytest.mark.parametrize("raw", ["a=1&a[b]=2", "a[b]=1&a=2", "a[]=1&a[b]=2", "a[][b]=1", "a]b=1"])
def test_decode_form_refuses_conflicting_or_malformed_keys(raw: str) -> None:
    with pytest.raises(StripeApiError) as caught:
        decode_form(raw)

    assert caught.value.status == 400


# --- authentication and routing --------------------------------------------------------


async def test_no_api_key_is_401(http: httpx.AsyncClient) -> None:
    response = await http.get("/v1/customers", headers={"Authorization": ""})

    assert response.status_code == 401
    assert error_of(response)["type"] == "invalid_request_error"
    assert "did not provide an API key" in error_of(response)["message"]


@pytest.mark.parametrize("key", ["sk_live_abcdefgh1234", "pk_test_abcdefgh1234", "rk_test_x"])
async def test_only_test_secret_keys_are_accepted(http: httpx.AsyncClient, key: str) -> None:
    response = await http.get("/v1/customers", headers={"Authorization": f"Bearer {key}"})

    assert response.status_code == 401
    assert error_of(response)["message"].startswith("Invalid API Key provided")
    assert key not in response.text


@pytest.mark.parametrize(("method", "path"), [("GET", "/v1/charges"), ("DELETE", "/v1/invoices")])
async def test_unknown_url_is_404(http: httpx.AsyncClient, method: str, path: str) -> None:
    response = await http.request(method, path)

    assert response.status_code == 404
    assert error_of(response)["message"] == f"Unrecognized request URL ({method}: {path})."


async def test_responses_carry_request_id_and_version(http: httpx.AsyncClient) -> None:
    response = await http.get("/v1/customers")

    assert response.headers["Request-Id"].startswith("req_")
    assert response.headers["Stripe-Version"] == "2020-08-27"


# --- parameters ----------------------------------------------------------------------


async def test_missing_object_is_404_resource_missing(http: httpx.AsyncClient) -> None:
    response = await http.get("/v1/invoices/in_nope")

    assert response.status_code == 404
    assert error_of(response) | {"doc_url": None} == {
        "type": "invalid_request_error",
        "code": "resource_missing",
        "message": "No such invoice: 'in_nope'",
        "param": "id",
        "doc_url": None,
    }


async def test_missing_referenced_object_is_400_resource_missing(http: httpx.AsyncClient) -> None:
    response = await send(http, "/v1/invoiceitems", {"customer": "cus_nope", "amount": 1})

    assert response.status_code == 400
    assert (error_of(response)["code"], error_of(response)["param"]) == (
        "resource_missing",
        "customer",
    )


async def test_missing_required_param(http: httpx.AsyncClient) -> None:
    response = await send(http, "/v1/invoiceitems", {"amount": 100, "currency": "usd"})

    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], error["param"]) == ("parameter_missing", "customer")
    assert error["message"] == "Missing required param: customer."


async def test_unknown_param(http: httpx.AsyncClient) -> None:
    response = await send(http, "/v1/customers", {"name": "A", "currency": "usd"})

    assert response.status_code == 400
    assert (error_of(response)["code"], error_of(response)["param"]) == (
        "parameter_unknown",
        "currency",
    )


async def test_invalid_integer(http: httpx.AsyncClient) -> None:
    customer = await create_customer(http)
    response = await send(http, "/v1/invoiceitems", {"customer": customer["id"], "amount": "ten"})

    assert response.status_code == 400
    assert error_of(response)["code"] == "parameter_invalid_integer"


async def test_expand_is_accepted(http: httpx.AsyncClient) -> None:
    response = await http.get("/v1/customers", params=encode_form({"expand": ["data.tax_ids"]}))

    assert response.status_code == 200


# --- idempotency -----------------------------------------------------------------------


async def test_same_key_and_params_replay_the_first_answer(
    http: httpx.AsyncClient, stripe_state: StripeState
) -> None:
    first = await send(http, "/v1/customers", {"name": "A"}, **{"Idempotency-Key": "k1"})
    second = await send(http, "/v1/customers", {"name": "A"}, **{"Idempotency-Key": "k1"})

    assert second.json() == first.json()
    assert len(stripe_state.customers) == 1
    assert "Idempotent-Replayed" not in first.headers
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.headers["Original-Request"] == first.headers["Request-Id"]


async def test_replay_is_the_answer_as_first_given(http: httpx.AsyncClient) -> None:
    first = await send(http, "/v1/customers", {"name": "A"}, **{"Idempotency-Key": "k1"})
    await create_invoice(http, first.json()["id"])  # sets the customer's currency

    second = await send(http, "/v1/customers", {"name": "A"}, **{"Idempotency-Key": "k1"})

    assert second.json()["currency"] is None


async def test_same_key_other_params_is_idempotency_error(http: httpx.AsyncClient) -> None:
    await send(http, "/v1/customers", {"name": "A"}, **{"Idempotency-Key": "k1"})
    response = await send(http, "/v1/customers", {"name": "B"}, **{"Idempotency-Key": "k1"})

    assert response.status_code == 400
    assert error_of(response)["type"] == "idempotency_error"
    assert "same parameters" in error_of(response)["message"]


async def test_same_key_other_endpoint_is_idempotency_error(http: httpx.AsyncClient) -> None:
    customer = await send(http, "/v1/customers", {"name": "A"}, **{"Idempotency-Key": "k1"})
    params = {"customer": customer.json()["id"], "amount": 1, "currency": "usd"}
    response = await send(http, "/v1/invoiceitems", params, **{"Idempotency-Key": "k1"})

    assert response.status_code == 400
    assert error_of(response)["type"] == "idempotency_error"
    assert "same endpoint" in error_of(response)["message"]


async def test_keys_are_scoped_per_api_key(
    http: httpx.AsyncClient, stripe_state: StripeState
) -> None:
    await send(http, "/v1/customers", {"name": "A"}, **{"Idempotency-Key": "k1"})
    other = await send(
        http,
        "/v1/customers",
        {"name": "A"},
        **{"Idempotency-Key": "k1", "Authorization": "Bearer sk_test_other"},
    )

    assert "Idempotent-Replayed" not in other.headers
    assert len(stripe_state.customers) == 2


async def test_parameter_errors_are_not_stored(http: httpx.AsyncClient) -> None:
    refused = await send(http, "/v1/customers", {"nam": "A"}, **{"Idempotency-Key": "k1"})
    accepted = await send(http, "/v1/customers", {"name": "A"}, **{"Idempotency-Key": "k1"})

    assert refused.status_code == 400
    assert accepted.status_code == 200


async def test_errors_after_execution_starts_are_replayed(http: httpx.AsyncClient) -> None:
    params = {"customer": "cus_nope", "amount": 1, "currency": "usd"}
    first = await send(http, "/v1/invoiceitems", params, **{"Idempotency-Key": "k1"})
    second = await send(http, "/v1/invoiceitems", params, **{"Idempotency-Key": "k1"})

    assert first.status_code == second.status_code == 400
    assert second.headers["Idempotent-Replayed"] == "true"


# --- customers -------------------------------------------------------------------------


async def test_customer_object(http: httpx.AsyncClient) -> None:
    customer = await create_customer(
        http,
        email="ap@acme.test",
        metadata={"ledgergate_id": "cus_01", "currency": "usd", "gone": ""},
        preferred_locales=["en", "de"],
    )

    assert customer["id"].startswith("cus_")
    assert customer["object"] == "customer"
    assert customer["livemode"] is False
    assert isinstance(customer["created"], int)
    assert customer["metadata"] == {"ledgergate_id": "cus_01", "currency": "usd"}
    assert customer["preferred_locales"] == ["en", "de"]
    assert customer["currency"] is None
    assert (await http.get(f"/v1/customers/{customer['id']}")).json() == customer


async def test_list_customers_newest_first_in_pages(http: httpx.AsyncClient) -> None:
    ids = [(await create_customer(http, name=f"C{i}"))["id"] for i in range(3)]

    first = (await http.get("/v1/customers", params={"limit": 2})).json()
    rest = (await http.get("/v1/customers", params={"limit": 2, "starting_after": ids[1]})).json()

    assert [c["id"] for c in first["data"]] == [ids[2], ids[1]]
    assert (first["has_more"], first["url"], first["object"]) == (True, "/v1/customers", "list")
    assert [c["id"] for c in rest["data"]] == [ids[0]]
    assert rest["has_more"] is False


async def test_list_customers_by_email(http: httpx.AsyncClient) -> None:
    wanted = await create_customer(http, email="a@acme.test")
    await create_customer(http, email="b@acme.test")

    listed = (await http.get("/v1/customers", params={"email": "a@acme.test"})).json()

    assert [c["id"] for c in listed["data"]] == [wanted["id"]]


@pytest.mark.parametrize("limit", [0, 101])
async def test_list_limit_is_bounded(http: httpx.AsyncClient, limit: int) -> None:
    response = await http.get("/v1/customers", params={"limit": limit})

    assert response.status_code == 400
    assert error_of(response)["param"] == "limit"


# --- invoice items and invoices ---------------------------------------------------------


async def test_invoice_item_amounts(http: httpx.AsyncClient) -> None:
    customer = await create_customer(http)
    by_amount = await post(
        http, "/v1/invoiceitems", {"customer": customer["id"], "amount": 700, "currency": "USD"}
    )
    by_unit = await post(
        http, "/v1/invoiceitems", {"customer": customer["id"], "unit_amount": 250, "quantity": 3}
    )

    assert by_amount["id"].startswith("ii_")
    assert (by_amount["amount"], by_amount["quantity"], by_amount["currency"]) == (700, 1, "usd")
    assert (by_unit["amount"], by_unit["unit_amount"], by_unit["quantity"]) == (750, 250, 3)
    assert by_unit["currency"] == "usd"  # the customer's, set by the first item


async def test_invoice_item_needs_an_amount_and_a_currency(http: httpx.AsyncClient) -> None:
    customer = await create_customer(http)
    no_amount = await send(
        http, "/v1/invoiceitems", {"customer": customer["id"], "currency": "usd"}
    )
    no_currency = await send(http, "/v1/invoiceitems", {"customer": customer["id"], "amount": 1})

    assert error_of(no_amount)["param"] == "amount"
    assert error_of(no_currency)["param"] == "currency"


async def test_invoice_items_keep_to_the_customer_currency(http: httpx.AsyncClient) -> None:
    customer = await create_customer(http)
    await post(
        http, "/v1/invoiceitems", {"customer": customer["id"], "amount": 1, "currency": "usd"}
    )
    response = await send(
        http, "/v1/invoiceitems", {"customer": customer["id"], "amount": 1, "currency": "eur"}
    )

    assert response.status_code == 400
    assert error_of(response)["param"] == "currency"


async def test_invoice_collects_pending_items(http: httpx.AsyncClient) -> None:
    customer = await create_customer(http, email="ap@acme.test")
    invoice = await create_invoice(http, customer["id"], amounts=(1_000, 500), metadata={"k": "v"})

    assert invoice["id"].startswith("in_")
    assert (invoice["status"], invoice["number"], invoice["paid"]) == ("draft", None, False)
    assert (invoice["subtotal"], invoice["total"], invoice["amount_due"]) == (1_500, 1_500, 1_500)
    assert invoice["customer_email"] == "ap@acme.test"
    assert invoice["metadata"] == {"k": "v"}
    assert [line["amount"] for line in invoice["lines"]["data"]] == [500, 1_000]
    assert invoice["lines"]["url"] == f"/v1/invoices/{invoice['id']}/lines"

    again = await send(http, "/v1/invoices", {"customer": customer["id"]})
    assert error_of(again)["code"] == "invoice_no_customer_line_items"


async def test_send_invoice_needs_days_until_due(http: httpx.AsyncClient) -> None:
    customer = await create_customer(http)
    await post(
        http, "/v1/invoiceitems", {"customer": customer["id"], "amount": 1, "currency": "usd"}
    )
    params: dict[str, Any] = {"customer": customer["id"], "collection_method": "send_invoice"}

    missing = await send(http, "/v1/invoices", params)
    invoice = await post(http, "/v1/invoices", params | {"days_until_due": 30})

    assert error_of(missing)["code"] == "parameter_missing"
    assert invoice["due_date"] == invoice["created"] + 30 * 86_400


async def test_finalize_and_pay(http: httpx.AsyncClient) -> None:
    customer = await create_customer(http)
    draft = await create_invoice(http, customer["id"], amounts=(900,))

    opened = await post(http, f"/v1/invoices/{draft['id']}/finalize", {})
    refinalized = await send(http, f"/v1/invoices/{draft['id']}/finalize", {})
    paid = await post(http, f"/v1/invoices/{draft['id']}/pay", {})
    repaid = await send(http, f"/v1/invoices/{draft['id']}/pay", {})

    assert opened["status"] == "open"
    assert opened["number"] == f"{customer['invoice_prefix']}-0001"
    assert opened["status_transitions"]["finalized_at"] is not None
    assert refinalized.status_code == 400
    assert (paid["status"], paid["paid"], paid["amount_paid"], paid["amount_remaining"]) == (
        "paid",
        True,
        900,
        0,
    )
    assert paid["paid_out_of_band"] is False
    assert paid["status_transitions"]["paid_at"] is not None
    assert repaid.status_code == 400
    assert (await http.get(f"/v1/invoices/{draft['id']}")).json() == paid


async def test_paying_a_draft_finalizes_it(http: httpx.AsyncClient) -> None:
    customer = await create_customer(http)
    draft = await create_invoice(http, customer["id"])

    paid = await post(http, f"/v1/invoices/{draft['id']}/pay", {"paid_out_of_band": True})

    assert (paid["status"], paid["paid_out_of_band"]) == ("paid", True)
    assert paid["number"] is not None


async def test_finalizing_a_zero_invoice_pays_it(http: httpx.AsyncClient) -> None:
    customer = await create_customer(http)

    invoice = await create_invoice(http, customer["id"], amounts=(0,), finalize=True)

    assert (invoice["status"], invoice["paid"]) == ("paid", True)


async def test_list_invoices_filters_and_pages(http: httpx.AsyncClient) -> None:
    customer = await create_customer(http)
    other = await create_customer(http, name="Other")
    ids = [(await create_invoice(http, customer["id"], pay=bool(i % 2)))["id"] for i in range(3)]
    await create_invoice(http, other["id"])

    mine = (await http.get("/v1/invoices", params={"customer": customer["id"]})).json()
    paid = (await http.get("/v1/invoices", params={"status": "paid"})).json()
    after = await http.get(
        "/v1/invoices", params={"customer": customer["id"], "starting_after": ids[2]}
    )
    unknown = await http.get("/v1/invoices", params={"starting_after": "in_nope"})

    assert [i["id"] for i in mine["data"]] == list(reversed(ids))
    assert [i["id"] for i in paid["data"]] == [ids[1]]
    assert [i["id"] for i in after.json()["data"]] == [ids[1], ids[0]]
    assert (unknown.status_code, error_of(unknown)["param"]) == (400, "starting_after")
