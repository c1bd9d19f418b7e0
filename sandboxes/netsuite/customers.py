"""Customer records: read, create, upsert by external id."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from sandboxes.netsuite.api import ApiBase
from sandboxes.netsuite.records import CustomerRecord
from sandboxes.netsuite.wire import (
    CURRENCIES,
    NsFault,
    NsResponse,
    created,
    invalid_ref,
    links_of,
    read_body,
    ref_id,
    ref_of,
    text_value,
    utc_now,
)


class CustomersApi(ApiBase):
    """Customer records: read, create, upsert by external id."""

    async def get_customer(self, request: Request) -> Response:
        customer = self._customer(request.path_params["record_id"])
        if customer is None:
            raise NsFault(404, "NONEXISTENT_ID", "The record instance does not exist.")
        return NsResponse(self._customer_wire(request, customer))

    def _customer_wire(self, request: Request, customer: CustomerRecord) -> dict[str, Any]:
        company = self.state.subsidiaries[customer.subsidiary_id]
        return {
            "links": links_of(request, f"/customer/{customer.id}"),
            "id": customer.id,
            "externalId": customer.external_id,
            "entityId": customer.entity_id,
            "companyName": customer.company_name,
            "email": customer.email,
            "isPerson": False,
            "currency": ref_of(
                request, "currency", customer.currency_id, CURRENCIES[customer.currency_id][1]
            ),
            "subsidiary": ref_of(request, "subsidiary", customer.subsidiary_id, company.name),
            "creditHoldOverride": {"id": customer.credit_hold, "refName": customer.credit_hold},
            "creditLimit": customer.credit_limit,
            "balance": self.state.balance(customer),
            "lastModifiedDate": customer.modified,
        }

    async def create_customer(self, request: Request) -> Response:
        values = await read_body(request, _CUSTOMER_FIELDS | {"externalId"})
        external = text_value(values, "externalId", "")
        if external and self._customer(f"eid:{external}") is not None:
            raise NsFault(400, "USER_ERROR", "A record with the same external ID already exists.")
        customer = self._new_customer(external, values)
        return created(request, "customer", customer.id)

    async def upsert_customer(self, request: Request) -> Response:
        key = request.path_params["record_id"]
        if not key.startswith("eid:"):
            raise NsFault(400, "USER_ERROR", "An upsert addresses the record by eid:{externalId}.")
        values = await read_body(request, _CUSTOMER_FIELDS)
        customer = self._customer(key)
        if customer is None:
            customer = self._new_customer(key.removeprefix("eid:"), values)
        else:
            self._update_customer(customer, values)
        return created(request, "customer", customer.id)

    async def update_customer(self, request: Request) -> Response:
        """PATCH: the fields sent, the credit hold among them; `204` as NetSuite answers."""
        customer = self._customer(request.path_params["record_id"])
        if customer is None:
            raise NsFault(404, "NONEXISTENT_ID", "The record instance does not exist.")
        values = await read_body(request, _CUSTOMER_FIELDS | {"creditHoldOverride"})
        if "creditHoldOverride" in values:
            hold = ref_id(values, "creditHoldOverride")
            if hold not in CREDIT_HOLDS:
                raise invalid_ref("creditHoldOverride", hold)
            customer.credit_hold = hold
        self._update_customer(customer, values)
        return created(request, "customer", customer.id)

    def _new_customer(self, external: str, values: Mapping[str, Any]) -> CustomerRecord:
        if "companyName" not in values or "subsidiary" not in values:
            raise NsFault(400, "USER_ERROR", "Please enter value(s) for: Company Name, Subsidiary.")
        subsidiary = ref_id(values, "subsidiary")
        if subsidiary not in self.state.subsidiaries:
            raise invalid_ref("subsidiary", subsidiary)
        customer = CustomerRecord(
            id=self.state.new_id(),
            external_id=external,
            entity_id=external,
            company_name="",
            email="",
            currency_id=self._currency_of_subsidiary(subsidiary),
            subsidiary_id=subsidiary,
        )
        self._update_customer(customer, values)
        self.state.customers[customer.id] = customer
        return customer

    def _update_customer(self, customer: CustomerRecord, values: Mapping[str, Any]) -> None:
        if "subsidiary" in values and ref_id(values, "subsidiary") != customer.subsidiary_id:
            raise NsFault(400, "USER_ERROR", "The subsidiary of a customer cannot be changed.")
        if "currency" in values:
            currency = ref_id(values, "currency")
            if currency not in CURRENCIES:
                raise invalid_ref("currency", currency)
            customer.currency_id = currency
        customer.entity_id = text_value(values, "entityId", customer.entity_id)
        customer.company_name = text_value(values, "companyName", customer.company_name)
        customer.email = text_value(values, "email", customer.email)
        customer.modified = utc_now()


CREDIT_HOLDS = ("AUTO", "ON", "OFF")
_CUSTOMER_FIELDS = frozenset({"entityId", "companyName", "email", "currency", "subsidiary"})
