"""The plumbing every part of the NetSuite adapter shares: requests, NetSuite's error body,
parsing, paged collections, and the lookups documents refer to (currency, customer,
account, an invoice or credit memo of the subsidiary).

The client's base URL is the record API root
(`https://{account}.suitetalk.api.netsuite.com/services/rest/record/v1`); `company_id`
is a subsidiary's internal id.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from system_apis.erp.adapters.netsuite_wire import (
    NsAccount,
    NsCollection,
    NsCreditMemo,
    NsCurrency,
    NsCustomer,
    NsErrorBody,
    NsInvoice,
    NsRequest,
)
from system_apis.erp.netsuite_mapping import credit_memo_from_ns, invoice_from_ns, ns_any_of, ns_is
from system_apis.erp.schemas import ErpSalesCreditMemo, ErpSalesInvoice
from system_apis.errors import BackendBusinessError, BackendContractError
from system_apis.http import ResilientClient, VendorError, map_record, parse_body

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

PAGE_SIZE = 1000
"""NetSuite's largest collection page."""


def decode_netsuite_error(response: httpx.Response) -> VendorError | None:
    """NetSuite's first `o:errorDetails` entry, or `None` when the body is not an error body."""
    try:
        body = NsErrorBody.model_validate_json(response.content)
    except ValidationError:
        return None
    detail = body.details[0]
    return VendorError(code=detail.error_code, message=detail.detail)


def ns_query(*conditions: str) -> str:
    """The `q` parameter: the conditions joined by `AND`."""
    return "q=" + quote(" AND ".join(conditions), safe="")


class NetSuiteRecords:
    """The shared plumbing of the NetSuite adapter."""

    def __init__(
        self, client: ResilientClient, *, line_item_id: str, page_size: int = PAGE_SIZE
    ) -> None:
        self._client = client
        self._line_item_id = line_item_id
        self._page_size = page_size
        # Reference data, each looked up once: internal ids never change, nor do the ISO
        # code of a currency and the number (external id) of one of our customers.
        self._currency_ids: dict[str, str] = {}  # ISO code -> internal id
        self._currency_codes: dict[str, str] = {}  # internal id -> ISO code
        self._tax_code_ids: dict[tuple[str, str], str] = {}  # (subsidiary, code) -> id
        self._customer_numbers: dict[str, str | None] = {}  # internal id -> external id

    async def _ids(self, record_type: str, operation: str, *conditions: str) -> AsyncIterator[str]:
        """The ids of the matching records, page by page (`offset`, `limit`, `hasMore`)."""
        offset = 0
        while True:
            url = f"/{record_type}?{ns_query(*conditions)}&limit={self._page_size}&offset={offset}"
            page = self._parse(
                await self._send("GET", url, operation=operation), NsCollection, operation
            )
            for item in page.items:
                yield item.id
            offset += len(page.items)
            if not page.has_more or not page.items:
                return

    async def _customer_number(self, customer_id: str, operation: str) -> str | None:
        if customer_id not in self._customer_numbers:
            response = await self._send("GET", f"/customer/{customer_id}", operation=operation)
            self._known_customer(self._parse(response, NsCustomer, operation))
        return self._customer_numbers[customer_id]

    def _known_customer(self, customer: NsCustomer) -> NsCustomer:
        """`customer`, its number noted for the documents that name it by internal id."""
        self._customer_numbers[customer.id] = customer.external_id
        return customer

    async def _account_id(self, number: str, operation: str) -> str | None:
        """The internal id of the account with this number, if the account has one."""
        return await self._unique_id("account", operation, ns_is("acctNumber", number))

    async def _unique_id(self, record_type: str, operation: str, *conditions: str) -> str | None:
        """The id of the one record matching `conditions`, if any; several is a mess to
        clean by hand."""
        found = [record async for record in self._ids(record_type, operation, *conditions)]
        if len(found) > 1:
            raise self._refusal(
                f"holds {len(found)} {record_type} records where "
                f"{' AND '.join(conditions)}; one must be removed by hand",
                operation,
            )
        return found[0] if found else None

    def _refusal(self, what: str, operation: str) -> BackendBusinessError:
        return BackendBusinessError(
            f"{self._client.backend} {what}", backend=self._client.backend, operation=operation
        )

    async def _account_number(self, account_id: str, operation: str) -> str:
        response = await self._send(
            "GET", f"/account/{quote(account_id, safe='')}", operation=operation
        )
        return self._parse(response, NsAccount, operation).acct_number

    def _check_subsidiary(
        self, record: str, record_id: str, subsidiary: str, company_id: str, operation: str
    ) -> None:
        if subsidiary != company_id:
            raise self._refusal(
                f"{record} {record_id} belongs to subsidiary {subsidiary}, not {company_id}",
                operation,
            )

    async def _get_credit_memo(self, company_id: str, memo_id: str, operation: str) -> NsCreditMemo:
        response = await self._send(
            "GET", f"/creditMemo/{quote(memo_id, safe='')}", operation=operation
        )
        memo = self._parse(response, NsCreditMemo, operation)
        self._check_subsidiary("credit memo", memo_id, memo.subsidiary.id, company_id, operation)
        return memo

    async def _canonical_memo(self, memo: NsCreditMemo, operation: str) -> ErpSalesCreditMemo:
        customer_number = await self._customer_number(memo.entity.id, operation)
        currency = await self._currency_code(memo.currency.id, operation)
        return self._mapped(operation, credit_memo_from_ns, memo, customer_number, currency)

    def _created_id(self, response: httpx.Response, record_type: str, operation: str) -> str:
        location: str = response.headers.get("Location", "")
        created_id = location.rstrip("/").rsplit("/", 1)[-1]
        if f"/{record_type}/" not in location or not created_id:
            raise BackendContractError(
                f"{self._client.backend} created a {record_type} without saying where "
                f"(Location {location!r})",
                backend=self._client.backend,
                operation=operation,
                vendor_status=response.status_code,
            )
        return created_id

    async def _get_invoice(self, company_id: str, invoice_id: str, operation: str) -> NsInvoice:
        invoice = await self._get_expanded("invoice", invoice_id, NsInvoice, operation)
        self._check_subsidiary("invoice", invoice_id, invoice.subsidiary.id, company_id, operation)
        return invoice

    async def _canonical(self, invoice: NsInvoice, operation: str) -> ErpSalesInvoice:
        customer_number = await self._customer_number(invoice.entity.id, operation)
        currency = await self._currency_code(invoice.currency.id, operation)
        return self._mapped(operation, invoice_from_ns, invoice, customer_number, currency)

    async def _tax_code_id(self, company_id: str, code: str, operation: str) -> str:
        if (company_id, code) not in self._tax_code_ids:
            query = ns_query(ns_is("itemId", code), ns_any_of("subsidiary", company_id))
            self._tax_code_ids[company_id, code] = await self._one_id(
                f"/salesTaxItem?{query}", f"tax code {code} for subsidiary {company_id}", operation
            )
        return self._tax_code_ids[company_id, code]

    async def _currency_id(self, code: str, operation: str) -> str:
        if code not in self._currency_ids:
            currency_id = await self._one_id(
                f"/currency?{ns_query(ns_is('symbol', code))}", f"currency {code}", operation
            )
            self._currency_ids[code] = currency_id
            self._currency_codes[currency_id] = code
        return self._currency_ids[code]

    async def _currency_code(self, currency_id: str, operation: str) -> str:
        if currency_id not in self._currency_codes:
            response = await self._send("GET", f"/currency/{currency_id}", operation=operation)
            code = self._parse(response, NsCurrency, operation).symbol
            self._currency_codes[currency_id] = code
            self._currency_ids[code] = currency_id
        return self._currency_codes[currency_id]

    async def _one_id(self, url: str, what: str, operation: str) -> str:
        found = self._parse(
            await self._send("GET", url, operation=operation), NsCollection, operation
        ).items
        if len(found) != 1:
            raise BackendBusinessError(
                f"{self._client.backend} has {len(found)} records for {what}, not one",
                backend=self._client.backend,
                operation=operation,
            )
        return found[0].id

    async def _get_expanded(
        self, record_type: str, record_id: str, model: type[M], operation: str
    ) -> M:
        """The record read with its sublists (lines, applications) expanded."""
        url = f"/{record_type}/{quote(record_id, safe='')}?expandSubResources=true"
        return self._parse(await self._send("GET", url, operation=operation), model, operation)

    async def _send(
        self, method: str, url: str, *, operation: str, body: NsRequest | None = None
    ) -> httpx.Response:
        return await self._client.request(
            method,
            url,
            operation=operation,
            json_body=None
            if body is None
            else body.model_dump(mode="json", by_alias=True, exclude_none=True),
            decode_error=decode_netsuite_error,
        )

    def _parse(self, response: httpx.Response, model: type[M], operation: str) -> M:
        return parse_body(response, model, backend=self._client.backend, operation=operation)

    def _mapped(self, operation: str, convert: Callable[..., T], *args: Any) -> T:
        return map_record(convert, *args, backend=self._client.backend, operation=operation)
