"""Customers: list, create, read, update."""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import Response

from sandboxes.business_central.api import ApiBase, check_currency
from sandboxes.business_central.master_data import Customer
from sandboxes.business_central.odata import (
    BcFault,
    BodyField,
    Filterable,
    ODataResponse,
    check_etag,
    read_body,
    select_properties,
    utc_now,
)

_CUSTOMER_FIELDS = {
    "number": BodyField("text", 20),
    "displayName": BodyField("text", 100),
    "email": BodyField("text", 80),
    "currencyCode": BodyField("text", 10),
    "blocked": BodyField("text", 10, edm="Microsoft.NAV.customerBlocked"),
}
# BC's customerBlocked enum: a blocked customer takes no new documents of that kind.
_BLOCKED = (" ", "Ship", "Invoice", "All")


_CUSTOMER_PROPERTIES: Filterable[Customer] = {"number": lambda c: c.number}


class CustomersApi(ApiBase):
    """Customers: list, create, read, update."""

    async def list_customers(self, request: Request) -> Response:
        book = self._book(request)
        customers = select_properties(
            request, "customer", book.customers.values(), _CUSTOMER_PROPERTIES
        )
        return ODataResponse({"value": [customer.wire() for customer in customers]})

    async def create_customer(self, request: Request) -> Response:
        book = self._book(request)
        values = await read_body(request, "customer", _CUSTOMER_FIELDS)
        number = values.get("number") or f"C{len(book.customers) + 1:05d}"
        if any(c.number == number for c in book.customers.values()):
            raise BcFault(
                400,
                "Internal_EntityWithSameKeyExists",
                f"The Customer already exists. Identification fields and values: No.='{number}'",
            )
        currency = values.get("currencyCode", "")
        check_currency(currency, "Customer")
        customer = Customer(
            id=str(uuid.uuid4()),
            number=number,
            display_name=values.get("displayName", ""),
            email=values.get("email", ""),
            currency_code=currency,
        )
        book.customers[customer.id] = customer
        return ODataResponse(customer.wire(), status_code=201)

    async def get_customer(self, request: Request) -> Response:
        book = self._book(request)
        return ODataResponse(self._customer(book, request.path_params["customer_id"]).wire())

    async def update_customer(self, request: Request) -> Response:
        book = self._book(request)
        customer = self._customer(book, request.path_params["customer_id"])
        check_etag(request, customer.etag)
        values = await read_body(request, "customer", _CUSTOMER_FIELDS)
        number = values.get("number", customer.number)
        if number != customer.number and any(c.number == number for c in book.customers.values()):
            raise BcFault(
                400,
                "Internal_EntityWithSameKeyExists",
                f"The Customer already exists. Identification fields and values: No.='{number}'",
            )
        currency = values.get("currencyCode", customer.currency_code)
        check_currency(currency, "Customer")
        blocked = values.get("blocked", customer.blocked)
        if blocked not in _BLOCKED:
            raise BcFault(
                400,
                "BadRequest",
                f"Cannot convert the literal '{blocked}' to the expected type "
                "'Microsoft.NAV.customerBlocked'.",
            )
        customer.blocked = blocked
        customer.number = number
        customer.display_name = values.get("displayName", customer.display_name)
        customer.email = values.get("email", customer.email)
        customer.currency_code = currency
        customer.version += 1
        customer.modified = utc_now()
        return ODataResponse(customer.wire())
