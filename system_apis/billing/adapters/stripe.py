"""`BillingPort` over Stripe's REST API (API version 2020-08-27) or the sandbox speaking it.

The caller builds the `ResilientClient` with the API root as base URL and
`stripe_headers(settings)` as default headers. The wire models are in
`stripe_wire`; every POST carries the caller's `Idempotency-Key`. Stripe's typed
error bodies give the classified error its `vendor_code` and message
(`decode_stripe_error`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from core.settings import BillingSettings
from system_apis.billing.adapters.stripe_wire import (
    StripeCreditNote,
    StripeCustomer,
    StripeCustomerResult,
    StripeDeletedCustomer,
    StripeError,
    StripeInvoice,
    StripeList,
    StripePrice,
    StripeProduct,
    StripeSubscription,
    StripeUpcomingInvoice,
    StripeUsageRecord,
)
from system_apis.billing.mapping import (
    cancel_subscription_params,
    credit_note_from_stripe,
    credit_note_page_from_stripe,
    credit_note_params,
    customer_create_params,
    customer_from_stripe,
    customer_update_params,
    encode_form,
    invoice_from_stripe,
    invoice_page_from_stripe,
    list_credit_notes_params,
    list_invoices_params,
    list_prices_params,
    pay_invoice_params,
    pending_invoice_items,
    price_create_params,
    price_from_stripe,
    price_page_from_stripe,
    product_create_params,
    product_from_stripe,
    proration_preview_from_stripe,
    subscription_change_params,
    subscription_create_params,
    subscription_from_stripe,
    upcoming_invoice_params,
    usage_record_from_stripe,
    usage_record_params,
)
from system_apis.billing.schemas import (
    BillingCreditNote,
    BillingCreditNoteCreate,
    BillingCreditNotePage,
    BillingCustomer,
    BillingCustomerCreate,
    BillingCustomerUpdate,
    BillingInvoice,
    BillingPage,
    BillingPrice,
    BillingPriceCreate,
    BillingPricePage,
    BillingProduct,
    BillingProductCreate,
    BillingSubscription,
    BillingSubscriptionChange,
    BillingSubscriptionCreate,
    BillingUsageRecord,
    BillingUsageReport,
    ProrationPreview,
)
from system_apis.errors import BackendNotFound
from system_apis.http import ResilientClient, VendorError, parse_body

M = TypeVar("M", bound=BaseModel)
D = TypeVar("D", StripeInvoice, StripeCreditNote)
C = TypeVar("C", StripeProduct, StripePrice)
# Stripe serves at most 100 objects a page.
STREAM_PAGE = 100


def stripe_headers(settings: BillingSettings) -> dict[str, str]:
    """Default headers for the client that talks to Stripe: key and pinned API version."""
    return {
        "Authorization": f"Bearer {settings.api_key.get_secret_value()}",
        "Stripe-Version": settings.api_version,
    }


def decode_stripe_error(response: httpx.Response) -> VendorError | None:
    """Stripe's typed error body: `code`, or `type` when there is none (`idempotency_error`)."""
    try:
        detail = StripeError.model_validate_json(response.content).error
    except ValidationError:
        return None
    return VendorError(code=detail.code or detail.type, message=detail.message)


class StripeAdapter:
    """Implements `BillingPort`; maps only, decides nothing."""

    def __init__(self, client: ResilientClient) -> None:
        self._client = client

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self._client.request(method, path, decode_error=decode_stripe_error, **kwargs)

    async def create_customer(
        self, customer: BillingCustomerCreate, *, idempotency_key: str
    ) -> BillingCustomer:
        operation = "create_customer"
        params = customer_create_params(customer)
        response = await self._post("/v1/customers", params, operation, idempotency_key)
        return customer_from_stripe(self._parse(response, StripeCustomer, operation))

    async def get_customer(self, customer_id: str) -> BillingCustomer:
        operation = "get_customer"
        response = await self._request(
            "GET", f"/v1/customers/{quote(customer_id, safe='')}", operation=operation
        )
        result = self._parse(response, StripeCustomerResult, operation).root
        if isinstance(result, StripeDeletedCustomer):
            raise BackendNotFound(
                f"{self._client.backend} customer {customer_id} is deleted",
                backend=self._client.backend,
                operation=operation,
                vendor_status=response.status_code,
                vendor_code="deleted",
            )
        return customer_from_stripe(result)

    async def update_customer(
        self, customer_id: str, customer: BillingCustomerUpdate, *, idempotency_key: str
    ) -> BillingCustomer:
        operation = "update_customer"
        params = customer_update_params(customer)
        path = f"/v1/customers/{quote(customer_id, safe='')}"
        response = await self._post(path, params, operation, idempotency_key)
        return customer_from_stripe(self._parse(response, StripeCustomer, operation))

    async def get_invoice(self, invoice_id: str) -> BillingInvoice:
        operation = "get_invoice"
        response = await self._request(
            "GET", f"/v1/invoices/{quote(invoice_id, safe='')}", operation=operation
        )
        return invoice_from_stripe(self._parse(response, StripeInvoice, operation))

    async def list_invoices(
        self, *, customer_id: str | None = None, limit: int = 20, cursor: str | None = None
    ) -> BillingPage:
        operation = "list_invoices"
        params = list_invoices_params(customer_id=customer_id, limit=limit, cursor=cursor)
        response = await self._request(
            "GET", "/v1/invoices", operation=operation, params=encode_form(params)
        )
        return invoice_page_from_stripe(self._parse(response, StripeList[StripeInvoice], operation))

    async def pay_invoice(
        self, invoice_id: str, *, paid_out_of_band: bool = False, idempotency_key: str
    ) -> BillingInvoice:
        operation = "pay_invoice"
        params = pay_invoice_params(paid_out_of_band=paid_out_of_band)
        response = await self._post(
            f"/v1/invoices/{quote(invoice_id, safe='')}/pay", params, operation, idempotency_key
        )
        return invoice_from_stripe(self._parse(response, StripeInvoice, operation))

    async def void_invoice(self, invoice_id: str, *, idempotency_key: str) -> BillingInvoice:
        operation = "void_invoice"
        response = await self._post(
            f"/v1/invoices/{quote(invoice_id, safe='')}/void", {}, operation, idempotency_key
        )
        return invoice_from_stripe(self._parse(response, StripeInvoice, operation))

    async def create_product(
        self, product: BillingProductCreate, *, idempotency_key: str
    ) -> BillingProduct:
        operation = "create_product"
        params = product_create_params(product)
        response = await self._post("/v1/products", params, operation, idempotency_key)
        return product_from_stripe(self._parse(response, StripeProduct, operation))

    async def create_price(
        self, price: BillingPriceCreate, *, idempotency_key: str
    ) -> BillingPrice:
        operation = "create_price"
        params = price_create_params(price)
        response = await self._post("/v1/prices", params, operation, idempotency_key)
        return price_from_stripe(self._parse(response, StripePrice, operation))

    async def get_price(self, price_id: str) -> BillingPrice:
        operation = "get_price"
        response = await self._request(
            "GET", f"/v1/prices/{quote(price_id, safe='')}", operation=operation
        )
        return price_from_stripe(self._parse(response, StripePrice, operation))

    async def list_prices(
        self, *, product_id: str | None = None, limit: int = 20, cursor: str | None = None
    ) -> BillingPricePage:
        operation = "list_prices"
        params = list_prices_params(product_id=product_id, limit=limit, cursor=cursor)
        response = await self._request(
            "GET", "/v1/prices", operation=operation, params=encode_form(params)
        )
        return price_page_from_stripe(self._parse(response, StripeList[StripePrice], operation))

    async def create_subscription(
        self, subscription: BillingSubscriptionCreate, *, idempotency_key: str
    ) -> BillingSubscription:
        operation = "create_subscription"
        params = subscription_create_params(subscription)
        response = await self._post("/v1/subscriptions", params, operation, idempotency_key)
        return subscription_from_stripe(self._parse(response, StripeSubscription, operation))

    async def get_subscription(self, subscription_id: str) -> BillingSubscription:
        operation = "get_subscription"
        response = await self._request(
            "GET", f"/v1/subscriptions/{quote(subscription_id, safe='')}", operation=operation
        )
        return subscription_from_stripe(self._parse(response, StripeSubscription, operation))

    async def preview_subscription_change(
        self, subscription_id: str, change: BillingSubscriptionChange
    ) -> ProrationPreview:
        """The upcoming invoice without the change names the invoice items already pending,
        which the one with it bills too: they are not the change's prorations."""
        unchanged = await self._upcoming(
            {"subscription": subscription_id}, "preview_subscription_change"
        )
        upcoming = await self._upcoming(
            upcoming_invoice_params(subscription_id, change), "preview_subscription_change"
        )
        return proration_preview_from_stripe(
            subscription_id, upcoming, pending=pending_invoice_items(unchanged)
        )

    async def _upcoming(self, params: dict[str, Any], operation: str) -> StripeUpcomingInvoice:
        response = await self._request(
            "GET", "/v1/invoices/upcoming", operation=operation, params=encode_form(params)
        )
        return self._parse(response, StripeUpcomingInvoice, operation)

    async def change_subscription(
        self, subscription_id: str, change: BillingSubscriptionChange, *, idempotency_key: str
    ) -> BillingSubscription:
        operation = "change_subscription"
        response = await self._post(
            f"/v1/subscriptions/{quote(subscription_id, safe='')}",
            subscription_change_params(change),
            operation,
            idempotency_key,
        )
        return subscription_from_stripe(self._parse(response, StripeSubscription, operation))

    async def cancel_subscription(
        self, subscription_id: str, *, prorate: bool = False, invoice_now: bool = False
    ) -> BillingSubscription:
        operation = "cancel_subscription"
        params = cancel_subscription_params(prorate=prorate, invoice_now=invoice_now)
        response = await self._request(
            "DELETE",
            f"/v1/subscriptions/{quote(subscription_id, safe='')}",
            operation=operation,
            form=encode_form(params),
        )
        return subscription_from_stripe(self._parse(response, StripeSubscription, operation))

    async def report_usage(
        self, subscription_item_id: str, report: BillingUsageReport, *, idempotency_key: str
    ) -> BillingUsageRecord:
        operation = "report_usage"
        response = await self._post(
            f"/v1/subscription_items/{quote(subscription_item_id, safe='')}/usage_records",
            usage_record_params(report),
            operation,
            idempotency_key,
        )
        return usage_record_from_stripe(self._parse(response, StripeUsageRecord, operation))

    async def create_credit_note(
        self, credit_note: BillingCreditNoteCreate, *, idempotency_key: str
    ) -> BillingCreditNote:
        operation = "create_credit_note"
        params = credit_note_params(credit_note)
        response = await self._post("/v1/credit_notes", params, operation, idempotency_key)
        return credit_note_from_stripe(self._parse(response, StripeCreditNote, operation))

    async def preview_credit_note(self, credit_note: BillingCreditNoteCreate) -> BillingCreditNote:
        operation = "preview_credit_note"
        params = encode_form(credit_note_params(credit_note))
        response = await self._request(
            "GET", "/v1/credit_notes/preview", operation=operation, params=params
        )
        return credit_note_from_stripe(self._parse(response, StripeCreditNote, operation))

    async def get_credit_note(self, credit_note_id: str) -> BillingCreditNote:
        operation = "get_credit_note"
        response = await self._request(
            "GET", f"/v1/credit_notes/{quote(credit_note_id, safe='')}", operation=operation
        )
        return credit_note_from_stripe(self._parse(response, StripeCreditNote, operation))

    async def list_credit_notes(
        self, *, invoice_id: str | None = None, limit: int = 20, cursor: str | None = None
    ) -> BillingCreditNotePage:
        operation = "list_credit_notes"
        params = list_credit_notes_params(invoice_id=invoice_id, limit=limit, cursor=cursor)
        response = await self._request(
            "GET", "/v1/credit_notes", operation=operation, params=encode_form(params)
        )
        page = self._parse(response, StripeList[StripeCreditNote], operation)
        return credit_note_page_from_stripe(page)

    async def stream_invoices(
        self, *, created_from: datetime, created_to: datetime
    ) -> AsyncIterator[BillingInvoice]:
        operation = "stream_invoices"
        async for invoice in self._newest_first(
            "/v1/invoices", StripeInvoice, operation, created_from, created_to
        ):
            yield invoice_from_stripe(invoice)

    async def stream_credit_notes(
        self, *, created_from: datetime, created_to: datetime
    ) -> AsyncIterator[BillingCreditNote]:
        operation = "stream_credit_notes"
        async for note in self._newest_first(
            "/v1/credit_notes", StripeCreditNote, operation, created_from, created_to
        ):
            yield credit_note_from_stripe(note)

    async def stream_products(self) -> AsyncIterator[BillingProduct]:
        async for product in self._every("/v1/products", StripeProduct, "stream_products"):
            yield product_from_stripe(product)

    async def stream_prices(self) -> AsyncIterator[BillingPrice]:
        async for price in self._every("/v1/prices", StripePrice, "stream_prices"):
            yield price_from_stripe(price)

    async def _every(self, path: str, model: type[C], operation: str) -> AsyncIterator[C]:
        """Every object of a list, active or not, a page at a time."""
        cursor: str | None = None
        while True:
            params = encode_form({"limit": STREAM_PAGE, "starting_after": cursor})
            response = await self._request("GET", path, operation=operation, params=params)
            page: StripeList[C] = self._parse(response, StripeList[model], operation)  # type: ignore[valid-type]
            for item in page.data:
                yield item
            if not page.has_more or not page.data:
                return
            cursor = page.data[-1].id

    async def _newest_first(
        self,
        path: str,
        model: type[D],
        operation: str,
        created_from: datetime,
        created_to: datetime,
    ) -> AsyncIterator[D]:
        """The objects created within the window, paging newest first until one is older."""
        first, last = created_from.timestamp(), created_to.timestamp()
        cursor: str | None = None
        while True:
            params = encode_form({"limit": STREAM_PAGE, "starting_after": cursor})
            response = await self._request("GET", path, operation=operation, params=params)
            page: StripeList[D] = self._parse(response, StripeList[model], operation)  # type: ignore[valid-type]
            for item in page.data:
                created = item.created
                if created is not None and created < first:
                    return
                if created is None or created <= last:
                    yield item
            if not page.has_more or not page.data:
                return
            cursor = page.data[-1].id

    async def _post(
        self, path: str, params: dict[str, Any], operation: str, idempotency_key: str
    ) -> httpx.Response:
        return await self._request(
            "POST",
            path,
            operation=operation,
            form=encode_form(params),
            headers={"Idempotency-Key": idempotency_key},
        )

    def _parse(self, response: httpx.Response, model: type[M], operation: str) -> M:
        return parse_body(response, model, backend=self._client.backend, operation=operation)
