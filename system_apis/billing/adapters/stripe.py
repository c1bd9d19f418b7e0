"""`BillingPort` over Stripe's REST API (API version 2020-08-27) or the sandbox speaking it.

The caller builds the `ResilientClient` with the API root as base URL and
`stripe_headers(settings)` as default headers. Wire models here are permissive
(`extra="ignore"`): Stripe adds fields without a version change, and we read only
what the mapping needs. Stripe's typed error bodies give the classified error its
`vendor_code` and message (`decode_stripe_error`).
"""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field, RootModel, ValidationError

from app.core.settings import BillingSettings
from system_apis.billing.mapping import (
    customer_create_params,
    customer_from_stripe,
    encode_form,
    invoice_from_stripe,
    invoice_page_from_stripe,
    list_invoices_params,
)
from system_apis.billing.schemas import (
    BillingCustomer,
    BillingCustomerCreate,
    BillingInvoice,
    BillingPage,
)
from system_apis.errors import BackendNotFound
from system_apis.http import ResilientClient, VendorError, parse_body

M = TypeVar("M", bound=BaseModel)


class StripeModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class StripeCustomer(StripeModel):
    id: str
    object: Literal["customer"]
    created: int
    livemode: bool
    deleted: Literal[False] = False
    name: str | None = None
    email: str | None = None
    currency: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)


class StripeDeletedCustomer(StripeModel):
    """What Stripe answers for a customer that has been deleted (still `200`)."""

    id: str
    object: Literal["customer"]
    deleted: Literal[True]


class StripeCustomerResult(RootModel[StripeCustomer | StripeDeletedCustomer]):
    """`GET /v1/customers/{customer}` answers a customer or a deleted customer."""


class StripeInvoice(StripeModel):
    id: str
    object: Literal["invoice"]
    customer: str
    currency: str
    status: Literal["draft", "open", "paid", "uncollectible", "void"]
    subtotal: int
    tax: int | None = None
    total: int
    amount_paid: int
    metadata: dict[str, str] | None = None


class StripeList(StripeModel, Generic[M]):
    object: Literal["list"]
    data: list[M]
    has_more: bool
    url: str


class StripeErrorDetail(StripeModel):
    type: str
    code: str | None = None
    message: str | None = None
    param: str | None = None


class StripeError(StripeModel):
    error: StripeErrorDetail


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
        response = await self._request(
            "POST",
            "/v1/customers",
            operation=operation,
            form=encode_form(customer_create_params(customer)),
            headers={"Idempotency-Key": idempotency_key},
        )
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

    def _parse(self, response: httpx.Response, model: type[M], operation: str) -> M:
        return parse_body(response, model, backend=self._client.backend, operation=operation)
