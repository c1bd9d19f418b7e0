"""A NetSuite REST record API sandbox (`/services/rest/record/v1`), in memory.

The slice a gateway needs to invoice through NetSuite: subsidiaries (one per demo
company, internal ids `1` and `2`), currencies, sales tax items, one service item
(`SERVICE_ITEM_ID`) for invoice lines, customers, invoices and credit memos (posted
when saved, applied to the invoice they are created from, reducing its amount due).
It keeps NetSuite's ways that matter to an adapter:

- records are addressed by internal id or by external id (`/customer/eid:C0001`);
  `PUT /customer/eid:{externalId}` upserts; creates and updates answer `204 No
  Content` with the record's URL in `Location`, and the record is read back by GET;
- queries use `q` with `<field> IS "<text>"` and `<field> ANY_OF [<id>, ...]`
  conditions joined by `AND`, and answer a collection of ids (`items`,
  `totalResults`, `hasMore`); a record is never cut short, so `hasMore` is false;
- references are `{"id": ...}`; amounts are JSON numbers; dates `YYYY-MM-DD`;
- sublists come back only as links unless `expandSubResources=true`;
- an external id belongs to one record of a type: a second create with it is refused;
- an invoice pending approval (`approvalStatus` 1) is not posted; approving it (2)
  posts it, which is refused for a `tranDate` before the first open day (the demo
  estate's closed period); an approved invoice's dates cannot change. Lines are
  priced `quantity x rate`, taxed by their tax item's rate, rounded per line.

Refusals use NetSuite's error body (`type`, `title`, `status`, `o:errorDetails` with
`detail` and `o:errorCode`): `INVALID_CONTENT` for a malformed body, an unknown field
or a bad `q`, `INVALID_KEY_OR_REF` for a reference to nothing, `USER_ERROR` for
business rules, `NONEXISTENT_ID` (404) for an unknown record.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from core.currencies import minor_unit_exponent
from sandboxes.business_central import TAX_PERCENT
from sandboxes.demo_estate import DEMO_COMPANIES, DemoCompany, first_open_day

API_ROOT = "/services/rest/record/v1"
SERVICE_ITEM_ID = "20"
PENDING_APPROVAL, APPROVED = "1", "2"
APPROVAL_NAMES = {PENDING_APPROVAL: "Pending Approval", APPROVED: "Approved"}
CURRENCIES = {"1": ("USD", "US Dollar"), "2": ("EUR", "Euro"), "3": ("GBP", "British Pound")}
FIRST_RECORD_ID = 100
FIRST_TRAN_NUMBER = 1001

_CONDITION = re.compile(r'(\w+) (?:IS "((?:[^"\\]|\\.)*)"|ANY_OF \[\s*(\d+(?:\s*,\s*\d+)*)\s*\])')
_AND = re.compile(r" AND ")
_TITLES = {400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}
_SECTIONS = {400: "15.5.1", 404: "15.5.5", 405: "15.5.6"}


class NsFault(Exception):
    """A refusal rendered as NetSuite's error body."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class TaxItem:
    id: str
    item_id: str
    subsidiary_id: str
    rate: Decimal


@dataclass
class CustomerRecord:
    id: str
    external_id: str
    entity_id: str
    company_name: str
    email: str
    currency_id: str
    subsidiary_id: str
    modified: str = field(default_factory=_now)


@dataclass
class InvoiceLine:
    line: int
    description: str
    quantity: Decimal
    rate: Decimal
    amount: Decimal
    tax_item: TaxItem
    tax_amount: Decimal


@dataclass
class InvoiceRecord:
    id: str
    external_id: str
    tran_id: str
    customer: CustomerRecord
    currency_id: str
    tran_date: date
    due_date: date
    approval_status: str
    lines: list[InvoiceLine]
    modified: str = field(default_factory=_now)
    credited: Decimal = Decimal(0)  # by the credit memos applied to it

    @property
    def subtotal(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))

    @property
    def tax_total(self) -> Decimal:
        return sum((line.tax_amount for line in self.lines), Decimal(0))

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.tax_total


@dataclass
class CreditMemoRecord:
    """A credit memo posts when it is saved; `created_from` is the invoice it is applied to."""

    id: str
    external_id: str
    tran_id: str
    customer: CustomerRecord
    currency_id: str
    tran_date: date
    created_from: InvoiceRecord | None
    lines: list[InvoiceLine]

    @property
    def subtotal(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))

    @property
    def tax_total(self) -> Decimal:
        return sum((line.tax_amount for line in self.lines), Decimal(0))

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.tax_total


class NetSuiteState:
    """The sandbox's records, plus views tests assert on."""

    def __init__(
        self, companies: Iterable[DemoCompany] = DEMO_COMPANIES, *, today: date | None = None
    ) -> None:
        self.today = today
        self.subsidiaries: dict[str, DemoCompany] = {}
        self.tax_items: dict[str, TaxItem] = {}
        self.customers: dict[str, CustomerRecord] = {}
        self.invoices: dict[str, InvoiceRecord] = {}
        self.credit_memos: dict[str, CreditMemoRecord] = {}
        self._next_id = FIRST_RECORD_ID
        self.next_tran_number = FIRST_TRAN_NUMBER
        for number, company in enumerate(companies, start=1):
            self.subsidiaries[str(number)] = company
            for code in company.tax_codes:
                item = TaxItem(
                    self.new_id(), code, str(number), TAX_PERCENT[(company.country, code)]
                )
                self.tax_items[item.id] = item

    def new_id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    def subsidiary_id(self, company: DemoCompany) -> str:
        return next(key for key, value in self.subsidiaries.items() if value == company)

    def invoice_count(self, external_id: str) -> int:
        """How many invoices carry this external id (NetSuite keeps it at 0 or 1)."""
        return sum(1 for invoice in self.invoices.values() if invoice.external_id == external_id)

    def first_open_day(self) -> date:
        return first_open_day(self.today)


def _links(request: Request, path: str) -> list[dict[str, str]]:
    return [{"rel": "self", "href": f"{request.url.scheme}://{request.url.netloc}{API_ROOT}{path}"}]


def _ref(request: Request, record_type: str, record_id: str, name: str) -> dict[str, Any]:
    return {
        "links": _links(request, f"/{record_type}/{record_id}"),
        "id": record_id,
        "refName": name,
    }


def _round(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-minor_unit_exponent(currency)), ROUND_HALF_UP)


def _render(value: Any) -> int | float:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"cannot render {type(value).__name__} as JSON")


class NsResponse(JSONResponse):
    """JSON with decimals as JSON numbers."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, default=_render, separators=(",", ":")).encode()


def _created(request: Request, record_type: str, record_id: str) -> Response:
    href = _links(request, f"/{record_type}/{record_id}")[0]["href"]
    return Response(status_code=204, headers={"Location": href})


async def _read_body(request: Request, allowed: frozenset[str]) -> dict[str, Any]:
    try:
        data = json.loads(await request.body(), parse_float=Decimal)
    except ValueError:
        raise NsFault(400, "INVALID_CONTENT", "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise NsFault(400, "INVALID_CONTENT", "The request body must be a JSON object.")
    for name in data:
        if name not in allowed:
            raise NsFault(400, "INVALID_CONTENT", f"Invalid field name: {name}.")
    return data


def _text(values: Mapping[str, Any], name: str, default: str | None = None) -> str:
    value = values.get(name, default)
    if not isinstance(value, str):
        raise NsFault(400, "INVALID_CONTENT", f"Field {name} must be a string.")
    return value


def _number(values: Mapping[str, Any], name: str) -> Decimal:
    value = values.get(name)
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise NsFault(400, "INVALID_CONTENT", f"Field {name} must be a number.")
    return Decimal(value)


def _date(values: Mapping[str, Any], name: str, default: date) -> date:
    if name not in values:
        return default
    try:
        return date.fromisoformat(_text(values, name))
    except ValueError:
        raise NsFault(400, "INVALID_CONTENT", f"Field {name} must be a date.") from None


def _ref_id(values: Mapping[str, Any], name: str) -> str:
    value = values.get(name)
    if not isinstance(value, dict) or not isinstance(value.get("id"), str) or len(value) != 1:
        raise NsFault(400, "INVALID_CONTENT", f'Field {name} must be a reference {{"id": "..."}}.')
    record_id: str = value["id"]
    return record_id


def _invalid_ref(name: str, record_id: str) -> NsFault:
    return NsFault(400, "INVALID_KEY_OR_REF", f"Invalid {name} reference key {record_id}.")


Condition = tuple[str, str | frozenset[str]]


def _query(request: Request, fields: frozenset[str]) -> list[Condition]:
    """The conditions of `q`: `IS` compares text, `ANY_OF` a reference's id."""
    text = request.query_params.get("q")
    if text is None:
        return []
    conditions: list[Condition] = []
    for position, part in enumerate(_AND.split(text.strip())):
        match = _CONDITION.fullmatch(part)
        if match is None or match.group(1) not in fields:
            raise NsFault(
                400, "INVALID_CONTENT", f"Invalid search query: {text} (part {position})."
            )
        name, literal, ids = match.groups()
        if ids is not None:
            conditions.append((name, frozenset(i.strip() for i in ids.split(","))))
        else:
            conditions.append((name, re.sub(r"\\(.)", r"\1", literal)))
    return conditions


def _meets(conditions: list[Condition], values: Mapping[str, str]) -> bool:
    return all(
        values[name] in wanted if isinstance(wanted, frozenset) else values[name] == wanted
        for name, wanted in conditions
    )


class _Api:
    def __init__(self, state: NetSuiteState) -> None:
        self.state = state

    def _collection(self, request: Request, record_type: str, ids: list[str]) -> NsResponse:
        return NsResponse(
            {
                "links": [{"rel": "self", "href": str(request.url)}],
                "count": len(ids),
                "hasMore": False,
                "items": [{"links": _links(request, f"/{record_type}/{i}"), "id": i} for i in ids],
                "offset": 0,
                "totalResults": len(ids),
            }
        )

    def _customer(self, key: str) -> CustomerRecord | None:
        if key.startswith("eid:"):
            external = key.removeprefix("eid:")
            return next(
                (c for c in self.state.customers.values() if c.external_id == external), None
            )
        return self.state.customers.get(key)

    def _invoice(self, request: Request) -> InvoiceRecord:
        invoice = self.state.invoices.get(request.path_params["record_id"])
        if invoice is None:
            raise NsFault(404, "NONEXISTENT_ID", "The record instance does not exist.")
        return invoice

    async def list_currencies(self, request: Request) -> Response:
        conditions = _query(request, frozenset({"symbol"}))
        ids = [i for i, (code, _) in CURRENCIES.items() if _meets(conditions, {"symbol": code})]
        return self._collection(request, "currency", ids)

    async def get_currency(self, request: Request) -> Response:
        currency_id = request.path_params["record_id"]
        if currency_id not in CURRENCIES:
            raise NsFault(404, "NONEXISTENT_ID", "The record instance does not exist.")
        code, name = CURRENCIES[currency_id]
        return NsResponse(
            {
                "links": _links(request, f"/currency/{currency_id}"),
                "id": currency_id,
                "name": name,
                "symbol": code,
                "isInactive": False,
            }
        )

    async def get_subsidiary(self, request: Request) -> Response:
        subsidiary_id = request.path_params["record_id"]
        company = self.state.subsidiaries.get(subsidiary_id)
        if company is None:
            raise NsFault(404, "NONEXISTENT_ID", "The record instance does not exist.")
        currency_id = self._currency_of_subsidiary(subsidiary_id)
        return NsResponse(
            {
                "links": _links(request, f"/subsidiary/{subsidiary_id}"),
                "id": subsidiary_id,
                "name": company.code,
                "legalName": company.name,
                "country": company.country,
                "currency": _ref(request, "currency", currency_id, CURRENCIES[currency_id][1]),
                "isInactive": False,
            }
        )

    async def get_tax_item(self, request: Request) -> Response:
        item = self.state.tax_items.get(request.path_params["record_id"])
        if item is None:
            raise NsFault(404, "NONEXISTENT_ID", "The record instance does not exist.")
        company = self.state.subsidiaries[item.subsidiary_id]
        return NsResponse(
            {
                "links": _links(request, f"/salesTaxItem/{item.id}"),
                "id": item.id,
                "itemId": item.item_id,
                "rate": _render(item.rate),
                "subsidiary": _ref(request, "subsidiary", item.subsidiary_id, company.name),
            }
        )

    async def list_tax_items(self, request: Request) -> Response:
        conditions = _query(request, frozenset({"itemId", "subsidiary"}))
        ids = [
            item.id
            for item in self.state.tax_items.values()
            if _meets(conditions, {"itemId": item.item_id, "subsidiary": item.subsidiary_id})
        ]
        return self._collection(request, "salesTaxItem", ids)

    async def get_customer(self, request: Request) -> Response:
        customer = self._customer(request.path_params["record_id"])
        if customer is None:
            raise NsFault(404, "NONEXISTENT_ID", "The record instance does not exist.")
        return NsResponse(self._customer_wire(request, customer))

    def _customer_wire(self, request: Request, customer: CustomerRecord) -> dict[str, Any]:
        company = self.state.subsidiaries[customer.subsidiary_id]
        return {
            "links": _links(request, f"/customer/{customer.id}"),
            "id": customer.id,
            "externalId": customer.external_id,
            "entityId": customer.entity_id,
            "companyName": customer.company_name,
            "email": customer.email,
            "isPerson": False,
            "currency": _ref(
                request, "currency", customer.currency_id, CURRENCIES[customer.currency_id][1]
            ),
            "subsidiary": _ref(request, "subsidiary", customer.subsidiary_id, company.name),
            "lastModifiedDate": customer.modified,
        }

    async def create_customer(self, request: Request) -> Response:
        values = await _read_body(request, _CUSTOMER_FIELDS | {"externalId"})
        external = _text(values, "externalId", "")
        if external and self._customer(f"eid:{external}") is not None:
            raise NsFault(400, "USER_ERROR", "A record with the same external ID already exists.")
        customer = self._new_customer(external, values)
        return _created(request, "customer", customer.id)

    async def upsert_customer(self, request: Request) -> Response:
        key = request.path_params["record_id"]
        if not key.startswith("eid:"):
            raise NsFault(400, "USER_ERROR", "An upsert addresses the record by eid:{externalId}.")
        values = await _read_body(request, _CUSTOMER_FIELDS)
        customer = self._customer(key)
        if customer is None:
            customer = self._new_customer(key.removeprefix("eid:"), values)
        else:
            self._update_customer(customer, values)
        return _created(request, "customer", customer.id)

    def _new_customer(self, external: str, values: Mapping[str, Any]) -> CustomerRecord:
        if "companyName" not in values or "subsidiary" not in values:
            raise NsFault(400, "USER_ERROR", "Please enter value(s) for: Company Name, Subsidiary.")
        subsidiary = _ref_id(values, "subsidiary")
        if subsidiary not in self.state.subsidiaries:
            raise _invalid_ref("subsidiary", subsidiary)
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

    def _currency_of_subsidiary(self, subsidiary: str) -> str:
        code = self.state.subsidiaries[subsidiary].currency
        return next(i for i, (c, _) in CURRENCIES.items() if c == code)

    def _update_customer(self, customer: CustomerRecord, values: Mapping[str, Any]) -> None:
        if "subsidiary" in values and _ref_id(values, "subsidiary") != customer.subsidiary_id:
            raise NsFault(400, "USER_ERROR", "The subsidiary of a customer cannot be changed.")
        if "currency" in values:
            currency = _ref_id(values, "currency")
            if currency not in CURRENCIES:
                raise _invalid_ref("currency", currency)
            customer.currency_id = currency
        customer.entity_id = _text(values, "entityId", customer.entity_id)
        customer.company_name = _text(values, "companyName", customer.company_name)
        customer.email = _text(values, "email", customer.email)
        customer.modified = _now()

    async def list_invoices(self, request: Request) -> Response:
        conditions = _query(request, frozenset({"externalId", "tranId"}))
        ids = [
            invoice.id
            for invoice in self.state.invoices.values()
            if _meets(conditions, {"externalId": invoice.external_id, "tranId": invoice.tran_id})
        ]
        return self._collection(request, "invoice", ids)

    async def create_invoice(self, request: Request) -> Response:
        values = await _read_body(request, _INVOICE_FIELDS)
        external = _text(values, "externalId", "")
        if external and self.state.invoice_count(external):
            raise NsFault(400, "USER_ERROR", "A record with the same external ID already exists.")
        customer = self.state.customers.get(_ref_id(values, "entity"))
        if customer is None:
            raise _invalid_ref("entity", _ref_id(values, "entity"))
        subsidiary = (
            _ref_id(values, "subsidiary") if "subsidiary" in values else customer.subsidiary_id
        )
        if subsidiary != customer.subsidiary_id:
            raise NsFault(400, "USER_ERROR", "The customer does not belong to the subsidiary.")
        currency = _ref_id(values, "currency") if "currency" in values else customer.currency_id
        if currency != customer.currency_id:
            raise _invalid_ref("currency", currency)
        today = self.state.today or date.today()
        tran_date = _date(values, "tranDate", today)
        approval = _ref_id(values, "approvalStatus") if "approvalStatus" in values else APPROVED
        if approval not in APPROVAL_NAMES:
            raise _invalid_ref("approvalStatus", approval)
        invoice = InvoiceRecord(
            id=self.state.new_id(),
            external_id=external,
            tran_id=f"INV{self.state.next_tran_number}",
            customer=customer,
            currency_id=currency,
            tran_date=tran_date,
            due_date=_date(values, "dueDate", tran_date),
            approval_status=PENDING_APPROVAL,
            lines=self._lines(values.get("item"), subsidiary, CURRENCIES[currency][0]),
        )
        if approval == APPROVED:
            self._approve(invoice)
        self.state.next_tran_number += 1
        self.state.invoices[invoice.id] = invoice
        return _created(request, "invoice", invoice.id)

    def _lines(self, sublist: Any, subsidiary: str, currency: str) -> list[InvoiceLine]:
        if (
            not isinstance(sublist, dict)
            or set(sublist) != {"items"}
            or not isinstance(sublist["items"], list)
        ):
            raise NsFault(400, "USER_ERROR", 'An invoice needs an item sublist {"items": [...]}.')
        if not sublist["items"]:
            raise NsFault(
                400, "USER_ERROR", "You must enter at least one line item for this transaction."
            )
        lines = []
        for number, raw in enumerate(sublist["items"], start=1):
            if not isinstance(raw, dict) or set(raw) - _LINE_FIELDS:
                raise NsFault(400, "INVALID_CONTENT", f"Invalid field name in item line {number}.")
            if _ref_id(raw, "item") != SERVICE_ITEM_ID:
                raise _invalid_ref("item", _ref_id(raw, "item"))
            tax_item = self.state.tax_items.get(_ref_id(raw, "taxCode"))
            if tax_item is None or tax_item.subsidiary_id != subsidiary:
                raise _invalid_ref("taxCode", _ref_id(raw, "taxCode"))
            quantity, rate = _number(raw, "quantity"), _number(raw, "rate")
            amount = _round(quantity * rate, currency)
            lines.append(
                InvoiceLine(
                    line=number,
                    description=_text(raw, "description", ""),
                    quantity=quantity,
                    rate=rate,
                    amount=amount,
                    tax_item=tax_item,
                    tax_amount=_round(amount * tax_item.rate / 100, currency),
                )
            )
        return lines

    def _approve(self, invoice: InvoiceRecord) -> None:
        if invoice.tran_date < self.state.first_open_day():
            raise NsFault(
                400,
                "USER_ERROR",
                f"The period of {invoice.tran_date.isoformat()} is closed for posting.",
            )
        invoice.approval_status = APPROVED

    async def get_invoice(self, request: Request) -> Response:
        invoice = self._invoice(request)
        expand = request.query_params.get("expandSubResources") == "true"
        currency, currency_name = CURRENCIES[invoice.currency_id]
        path = f"/invoice/{invoice.id}"
        approved = invoice.approval_status == APPROVED
        sublist: dict[str, Any] = {"links": _links(request, f"{path}/item")}
        if expand:
            sublist |= {
                "items": [
                    {
                        "links": [],
                        "line": line.line,
                        "item": _ref(
                            request, "serviceSaleItem", SERVICE_ITEM_ID, "Subscription services"
                        ),
                        "description": line.description,
                        "quantity": line.quantity,
                        "rate": line.rate,
                        "amount": line.amount,
                        "taxCode": _ref(
                            request, "salesTaxItem", line.tax_item.id, line.tax_item.item_id
                        ),
                        "taxRate1": line.tax_item.rate,
                    }
                    for line in invoice.lines
                ],
                "count": len(invoice.lines),
                "hasMore": False,
                "offset": 0,
                "totalResults": len(invoice.lines),
            }
        return NsResponse(
            {
                "links": _links(request, path),
                "id": invoice.id,
                "externalId": invoice.external_id,
                "tranId": invoice.tran_id,
                "tranDate": invoice.tran_date.isoformat(),
                "dueDate": invoice.due_date.isoformat(),
                "entity": _ref(
                    request, "customer", invoice.customer.id, invoice.customer.company_name
                ),
                "subsidiary": _ref(
                    request,
                    "subsidiary",
                    invoice.customer.subsidiary_id,
                    self.state.subsidiaries[invoice.customer.subsidiary_id].name,
                ),
                "currency": _ref(request, "currency", invoice.currency_id, currency_name),
                "approvalStatus": {
                    "id": invoice.approval_status,
                    "refName": APPROVAL_NAMES[invoice.approval_status],
                },
                "status": {
                    "id": "Open" if approved else "Pending Approval",
                    "refName": "Open" if approved else "Pending Approval",
                },
                "subtotal": invoice.subtotal,
                "taxTotal": invoice.tax_total,
                "total": invoice.total,
                "amountRemaining": _round(invoice.total - invoice.credited, currency),
                "lastModifiedDate": invoice.modified,
                "item": sublist,
            }
        )

    async def list_credit_memos(self, request: Request) -> Response:
        conditions = _query(request, frozenset({"externalId"}))
        ids = [
            memo.id
            for memo in self.state.credit_memos.values()
            if _meets(conditions, {"externalId": memo.external_id})
        ]
        return self._collection(request, "creditMemo", ids)

    async def create_credit_memo(self, request: Request) -> Response:
        values = await _read_body(request, _CREDIT_MEMO_FIELDS)
        external = _text(values, "externalId", "")
        if external and any(m.external_id == external for m in self.state.credit_memos.values()):
            raise NsFault(400, "USER_ERROR", "A record with the same external ID already exists.")
        customer = self.state.customers.get(_ref_id(values, "entity"))
        if customer is None:
            raise _invalid_ref("entity", _ref_id(values, "entity"))
        currency = _ref_id(values, "currency") if "currency" in values else customer.currency_id
        if currency != customer.currency_id:
            raise _invalid_ref("currency", currency)
        tran_date = _date(values, "tranDate", self.state.today or date.today())
        if tran_date < self.state.first_open_day():
            raise NsFault(
                400, "USER_ERROR", f"The period of {tran_date.isoformat()} is closed for posting."
            )
        invoice = None
        if "createdFrom" in values:
            invoice = self.state.invoices.get(_ref_id(values, "createdFrom"))
            if invoice is None or invoice.customer is not customer:
                raise _invalid_ref("createdFrom", _ref_id(values, "createdFrom"))
            if invoice.approval_status != APPROVED:
                raise NsFault(400, "USER_ERROR", "A credit memo applies to an approved invoice.")
        lines = self._lines(values.get("item"), customer.subsidiary_id, CURRENCIES[currency][0])
        memo = CreditMemoRecord(
            id=self.state.new_id(),
            external_id=external,
            tran_id=f"CM{self.state.next_tran_number}",
            customer=customer,
            currency_id=currency,
            tran_date=tran_date,
            created_from=invoice,
            lines=lines,
        )
        if invoice is not None:
            if memo.total > invoice.total - invoice.credited:
                raise NsFault(400, "USER_ERROR", "The credit exceeds the invoice's amount due.")
            invoice.credited += memo.total
            invoice.modified = _now()
        self.state.next_tran_number += 1
        self.state.credit_memos[memo.id] = memo
        return _created(request, "creditMemo", memo.id)

    async def get_credit_memo(self, request: Request) -> Response:
        memo = self.state.credit_memos.get(request.path_params["record_id"])
        if memo is None:
            raise NsFault(404, "NONEXISTENT_ID", "The record instance does not exist.")
        currency, currency_name = CURRENCIES[memo.currency_id]
        invoice = memo.created_from
        return NsResponse(
            {
                "links": _links(request, f"/creditMemo/{memo.id}"),
                "id": memo.id,
                "externalId": memo.external_id,
                "tranId": memo.tran_id,
                "tranDate": memo.tran_date.isoformat(),
                "entity": _ref(request, "customer", memo.customer.id, memo.customer.company_name),
                "subsidiary": _ref(
                    request,
                    "subsidiary",
                    memo.customer.subsidiary_id,
                    self.state.subsidiaries[memo.customer.subsidiary_id].name,
                ),
                "currency": _ref(request, "currency", memo.currency_id, currency_name),
                **(
                    {"createdFrom": _ref(request, "invoice", invoice.id, invoice.tran_id)}
                    if invoice is not None
                    else {}
                ),
                "subtotal": memo.subtotal,
                "taxTotal": memo.tax_total,
                "total": memo.total,
                "item": {
                    "links": _links(request, f"/creditMemo/{memo.id}/item"),
                    "items": [{"links": [], "line": line.line} for line in memo.lines],
                    "count": len(memo.lines),
                    "hasMore": False,
                    "offset": 0,
                    "totalResults": len(memo.lines),
                },
            }
        )

    async def update_invoice(self, request: Request) -> Response:
        invoice = self._invoice(request)
        values = await _read_body(request, frozenset({"tranDate", "dueDate", "approvalStatus"}))
        approved = invoice.approval_status == APPROVED
        if approved and ({"tranDate", "dueDate"} & set(values)):
            raise NsFault(
                400, "USER_ERROR", "The dates of an approved invoice cannot be changed here."
            )
        invoice.tran_date = _date(values, "tranDate", invoice.tran_date)
        invoice.due_date = _date(values, "dueDate", invoice.due_date)
        if "approvalStatus" in values:
            wanted = _ref_id(values, "approvalStatus")
            if wanted not in APPROVAL_NAMES:
                raise _invalid_ref("approvalStatus", wanted)
            if approved and wanted != APPROVED:
                raise NsFault(400, "USER_ERROR", "An approved invoice cannot go back to approval.")
            if not approved and wanted == APPROVED:
                self._approve(invoice)
        invoice.modified = _now()
        return _created(request, "invoice", invoice.id)


_CREDIT_MEMO_FIELDS = frozenset(
    {"externalId", "entity", "currency", "tranDate", "createdFrom", "item"}
)
_CUSTOMER_FIELDS = frozenset({"entityId", "companyName", "email", "currency", "subsidiary"})
_INVOICE_FIELDS = frozenset(
    {
        "externalId",
        "entity",
        "subsidiary",
        "currency",
        "tranDate",
        "dueDate",
        "approvalStatus",
        "item",
    }
)
_LINE_FIELDS = frozenset({"item", "description", "quantity", "rate", "taxCode"})


def _error(status: int, code: str, detail: str) -> Response:
    section = _SECTIONS.get(status, "15.5.1")
    return NsResponse(
        {
            "type": f"https://www.rfc-editor.org/rfc/rfc9110.html#section-{section}",
            "title": _TITLES.get(status, "Bad Request"),
            "status": status,
            "o:errorDetails": [{"detail": detail, "o:errorCode": code}],
        },
        status_code=status,
    )


async def _on_fault(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NsFault)
    return _error(exc.status, exc.code, exc.detail)


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return _error(
            405, "INVALID_REQUEST", f"{request.method} is not allowed on {request.url.path}."
        )
    return _error(404, "NONEXISTENT_ID", f"Unknown record type or path {request.url.path}.")


Handler = Callable[[Request], Awaitable[Response]]


def create_app(state: NetSuiteState | None = None) -> Starlette:
    """The sandbox as an ASGI app; pass a `state` to inspect or seed it from tests."""
    api = _Api(state or NetSuiteState())
    routes: list[tuple[str, Handler, str]] = [
        ("/currency", api.list_currencies, "GET"),
        ("/currency/{record_id}", api.get_currency, "GET"),
        ("/subsidiary/{record_id}", api.get_subsidiary, "GET"),
        ("/salesTaxItem", api.list_tax_items, "GET"),
        ("/salesTaxItem/{record_id}", api.get_tax_item, "GET"),
        ("/customer", api.create_customer, "POST"),
        ("/customer/{record_id}", api.get_customer, "GET"),
        ("/customer/{record_id}", api.upsert_customer, "PUT"),
        ("/invoice", api.list_invoices, "GET"),
        ("/invoice", api.create_invoice, "POST"),
        ("/invoice/{record_id}", api.get_invoice, "GET"),
        ("/invoice/{record_id}", api.update_invoice, "PATCH"),
        ("/creditMemo", api.list_credit_memos, "GET"),
        ("/creditMemo", api.create_credit_memo, "POST"),
        ("/creditMemo/{record_id}", api.get_credit_memo, "GET"),
    ]
    by_path: dict[str, dict[str, Handler]] = {}
    for path, handler, method in routes:
        by_path.setdefault(path, {})[method] = handler
    app = Starlette(
        routes=[
            Mount(
                API_ROOT,
                routes=[
                    Route(path, _dispatch(handlers), methods=list(handlers))
                    for path, handlers in by_path.items()
                ],
            )
        ],
        exception_handlers={NsFault: _on_fault, HTTPException: _on_http_error},
    )
    app.state.netsuite = api.state
    return app


def _dispatch(handlers: dict[str, Handler]) -> Handler:
    async def endpoint(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await handlers[method](request)

    return endpoint
