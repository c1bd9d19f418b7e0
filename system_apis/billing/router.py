"""`/system/billing/v1`: the canonical billing API for trusted internal callers.

Thin: each operation is one `BillingPort` call, with the `system:billing` scope.
Creates require an `Idempotency-Key`, passed to the billing engine, which replays
the first answer to a retry.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import ConfigDict

from core.auth import requires
from core.problems import problem_responses
from system_apis.billing.port import BillingPort
from system_apis.billing.schemas import (
    BillingCustomer,
    BillingCustomerCreate,
    BillingCustomerUpdate,
    BillingInvoice,
    BillingPage,
    BillingPrice,
    BillingSubscription,
)
from system_apis.rest import BACKEND_PROBLEMS, IdempotencyKey, VendorID


def get_billing(request: Request) -> BillingPort:
    """The billing port the composition root built."""
    port: BillingPort = request.app.state.backends.billing
    return port


BillingDep = Annotated[BillingPort, Depends(get_billing)]


class BillingCustomerCreateBody(BillingCustomerCreate):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BillingCustomerUpdateBody(BillingCustomerUpdate):
    model_config = ConfigDict(frozen=True, extra="forbid")


router = APIRouter(
    prefix="/system/billing/v1",
    tags=["system-billing"],
    dependencies=[requires("system:billing")],
)


@router.post(
    "/customers",
    response_model=BillingCustomer,
    status_code=201,
    operation_id="system-billing-create-customer",
    summary="Create a customer",
    responses=problem_responses(400, 413, 415, *BACKEND_PROBLEMS),
)
async def create_customer(
    customer: BillingCustomerCreateBody,
    idempotency_key: IdempotencyKey,
    billing: BillingDep,
    response: Response,
) -> BillingCustomer:
    """A billing customer carrying our customer id as its reference."""
    created = await billing.create_customer(customer, idempotency_key=idempotency_key)
    response.headers["Location"] = f"/system/billing/v1/customers/{created.id}"
    return created


@router.get(
    "/customers/{customer_id}",
    response_model=BillingCustomer,
    operation_id="system-billing-get-customer",
    summary="Get a customer",
    responses=problem_responses(*BACKEND_PROBLEMS),
)
async def get_customer(customer_id: VendorID, billing: BillingDep) -> BillingCustomer:
    """One billing customer."""
    return await billing.get_customer(customer_id)


@router.patch(
    "/customers/{customer_id}",
    response_model=BillingCustomer,
    operation_id="system-billing-update-customer",
    summary="Update a customer",
    responses=problem_responses(400, 413, 415, *BACKEND_PROBLEMS),
)
async def update_customer(
    customer_id: VendorID,
    customer: BillingCustomerUpdateBody,
    idempotency_key: IdempotencyKey,
    billing: BillingDep,
) -> BillingCustomer:
    """Set a billing customer's name and email to ours (no email unsets it)."""
    return await billing.update_customer(customer_id, customer, idempotency_key=idempotency_key)


@router.get(
    "/invoices",
    response_model=BillingPage,
    operation_id="system-billing-list-invoices",
    summary="List invoices",
    responses=problem_responses(*BACKEND_PROBLEMS),
)
async def list_invoices(
    billing: BillingDep,
    customer_id: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_]{1,64}$")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_]{1,64}$")] = None,
) -> BillingPage:
    """Invoices, newest first, optionally of one customer; `next_cursor` pages on."""
    return await billing.list_invoices(customer_id=customer_id, limit=limit, cursor=cursor)


@router.get(
    "/invoices/{invoice_id}",
    response_model=BillingInvoice,
    operation_id="system-billing-get-invoice",
    summary="Get an invoice",
    responses=problem_responses(*BACKEND_PROBLEMS),
)
async def get_invoice(invoice_id: VendorID, billing: BillingDep) -> BillingInvoice:
    """One invoice with its totals and what has been paid."""
    return await billing.get_invoice(invoice_id)


@router.get(
    "/prices/{price_id}",
    response_model=BillingPrice,
    operation_id="system-billing-get-price",
    summary="Get a price",
    responses=problem_responses(*BACKEND_PROBLEMS),
)
async def get_price(price_id: VendorID, billing: BillingDep) -> BillingPrice:
    """One price of a product."""
    return await billing.get_price(price_id)


@router.get(
    "/subscriptions/{subscription_id}",
    response_model=BillingSubscription,
    operation_id="system-billing-get-subscription",
    summary="Get a subscription",
    responses=problem_responses(*BACKEND_PROBLEMS),
)
async def get_subscription(subscription_id: VendorID, billing: BillingDep) -> BillingSubscription:
    """One subscription with its items and current period."""
    return await billing.get_subscription(subscription_id)
