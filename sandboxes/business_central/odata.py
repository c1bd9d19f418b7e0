"""Business Central's OData wire format: errors, etags, dates, body fields, query options."""

from __future__ import annotations

import base64
import itertools
import json
import operator
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse

from core.currencies import minor_unit_exponent

API_ROOT = "/v2.0/{environment}/api/v1.0"
REPEATED_CREATES_PATH = "/_sandbox/repeated-creates"


TAX_PERCENT: dict[tuple[str, str], Decimal] = {
    ("US", "STANDARD"): Decimal("8.875"),
    ("US", "EXEMPT"): Decimal("0"),
    ("DE", "STANDARD"): Decimal("19"),
    ("DE", "REDUCED"): Decimal("7"),
    ("DE", "REVERSE"): Decimal("0"),
}


"""Tax rate in percent per (company country, tax group code) of the demo estate."""


FIRST_DRAFT_NUMBER = 102001
FIRST_POSTED_NUMBER = 103001
FIRST_MEMO_DRAFT_NUMBER = 104001
FIRST_MEMO_POSTED_NUMBER = 105001
FIRST_PAYMENT_NUMBER = 1
LINE_NUMBER_STEP = 10000
ZERO = Decimal(0)
EMPTY_GUID = "00000000-0000-0000-0000-000000000000"
GL_ACCOUNT = "G/L Account"


CURRENCIES: dict[str, tuple[str, str]] = {
    "USD": ("US Dollar", "$"),
    "EUR": ("Euro", "€"),
    "GBP": ("Pound Sterling", "£"),
}


"""The currencies every demo company keeps: code, display name and symbol."""


CHART_OF_ACCOUNTS: dict[str, str] = {
    "10100": "Checking Account",
    "13100": "Accounts Receivable",
    "21500": "Partner Commissions Payable",
    "24000": "Deferred Revenue",
    "40100": "Subscription Revenue",
    "60100": "Partner Commissions",
    "68100": "Chargeback Losses",
    "68200": "Payment Dispute Fees",
}


"""The G/L accounts of every demo company, by number."""


_CONDITION = re.compile(r"(\w+)\s+(eq|ne|gt|ge|lt|le)\s+('(?:[^']|'')*'|\d{4}-\d{2}-\d{2}|-?\d+)")


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}


class BcFault(Exception):
    """A refusal rendered as BC's OData error body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def utc_now() -> datetime:
    return datetime.now(UTC)


def wire_datetime(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def wire_date(value: date) -> str:
    return f"{value.isoformat()}T00:00:00Z"


def etag_of(entity_id: str, version: int) -> str:
    token = base64.b64encode(f"'{version};{entity_id}'".encode()).decode()
    return f'W/"{token}"'


@dataclass(frozen=True)
class BodyField:
    kind: str  # "text", "int", "number" or "date"
    max_length: int | None = None
    edm: str = "Edm.String"


def _convert(spec: BodyField, value: Any) -> Any:
    def refuse() -> BcFault:
        return BcFault(
            400,
            "BadRequest",
            f"Cannot convert the literal '{value}' to the expected type '{spec.edm}'.",
        )

    if spec.kind == "text":
        if not isinstance(value, str):
            raise refuse()
        if spec.max_length is not None and len(value) > spec.max_length:
            raise BcFault(
                400,
                "Application_StringExceededLength",
                f"The length of the string is {len(value)}, but it must be less than or equal "
                f"to {spec.max_length} characters. Value: {value}",
            )
        return value
    if spec.kind == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            raise refuse()
        return value
    if spec.kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise refuse()
        return Decimal(value)
    if not isinstance(value, str):
        raise refuse()
    try:
        return datetime.fromisoformat(value).date() if "T" in value else date.fromisoformat(value)
    except ValueError:
        raise refuse() from None


async def read_body(
    request: Request,
    entity: str,
    fields: dict[str, BodyField],
    nested: Mapping[str, tuple[str, dict[str, BodyField]]] | None = None,
) -> dict[str, Any]:
    """The body's properties, converted; `nested` names the navigation properties a deep
    insert may carry (a list of records of that entity and fields) and they are read too."""
    try:
        data = json.loads(await request.body(), parse_float=Decimal)
    except ValueError:
        raise BcFault(400, "BadRequest", "Invalid Request Body") from None
    if not isinstance(data, dict):
        raise BcFault(400, "BadRequest", "Invalid Request Body")
    deep: dict[str, Any] = {}
    for name, (nested_entity, nested_fields) in (nested or {}).items():
        if name in data:
            records = data.pop(name)
            if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
                raise BcFault(400, "BadRequest", "Invalid Request Body")
            deep[name] = [convert_fields(r, nested_entity, nested_fields) for r in records]
    return {**convert_fields(data, entity, fields), **deep}


def convert_fields(
    data: dict[str, Any], entity: str, fields: dict[str, BodyField]
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, value in data.items():
        if name not in fields:
            raise BcFault(
                400,
                "BadRequest",
                f"The property '{name}' does not exist on type 'Microsoft.NAV.{entity}'. Make "
                "sure to only use property names that are defined by the type.",
            )
        values[name] = _convert(fields[name], value)
    return values


Condition = tuple[str, str, Any]
R = TypeVar("R")
Filterable = Mapping[str, Callable[[R], Any]]


"""The properties a list can be filtered on, each with how to read it off a record."""


_JOINER = re.compile(r"\s+(and|or)\s+")


@dataclass(frozen=True)
class Filter:
    """`$filter`'s comparisons: a record meets all of them, or with `any_of` (joined by
    `or`, which BC allows between comparisons of one property only) one of them."""

    conditions: list[Condition]
    any_of: bool = False

    one_of: frozenset[Any] | None = None
    """With `any_of`, when every comparison is an equality of one type: their literals,
    among which a record's value is looked up rather than compared with each in turn."""


def _refuse_filter(expression: str) -> BcFault:
    return BcFault(
        400,
        "BadRequest",
        "The sandbox only understands <property> <eq|ne|gt|ge|lt|le> <'text'|date|integer> "
        f"joined by 'and', or by 'or' on one property: {expression}",
    )


def _literal(token: str, expression: str) -> str | date | int:
    if token.startswith("'"):
        return token[1:-1].replace("''", "'")
    if "-" in token[1:]:
        try:
            return date.fromisoformat(token)
        except ValueError:
            raise _refuse_filter(expression) from None
    return int(token)


def _odata_filter(request: Request, entity: str, allowed: Iterable[str]) -> Filter:
    """The comparisons of `$filter` and how they join."""
    expression = request.query_params.get("$filter")
    if expression is None:
        return Filter([])
    text, position, conditions, joiners = expression.strip(), 0, [], set()
    while True:
        match = _CONDITION.match(text, position)
        if match is None:
            raise _refuse_filter(expression)
        name, op, token = match.groups()
        if name not in allowed:
            raise BcFault(
                400,
                "BadRequest",
                f"Could not find a property named '{name}' on type 'Microsoft.NAV.{entity}'.",
            )
        conditions.append((name, op, _literal(token, expression)))
        position = match.end()
        if position == len(text):
            break
        joiner = _JOINER.match(text, position)
        if joiner is None:
            raise _refuse_filter(expression)
        joiners.add(joiner.group(1))
        position = joiner.end()
    if joiners == {"or"} and len({name for name, _, _ in conditions}) == 1:
        literals = {literal for _, _, literal in conditions}
        equalities = all(op == "eq" for _, op, _ in conditions)
        one_of = frozenset(literals) if equalities and len(set(map(type, literals))) == 1 else None
        return Filter(conditions, any_of=True, one_of=one_of)
    if "or" in joiners:
        raise _refuse_filter(expression)
    return Filter(conditions)


def _compare(condition: Condition, record: R, properties: Filterable[R]) -> bool:
    name, op, literal = condition
    value = properties[name](record)
    if type(value) is not type(literal):
        raise BcFault(
            400,
            "BadRequest",
            f"A binary operator with incompatible types was detected for '{name}'.",
        )
    return _COMPARE[op](value, literal)


def _meets(where: Filter, record: R, properties: Filterable[R]) -> bool:
    if where.one_of is not None:
        name, _, literal = where.conditions[0]
        value = properties[name](record)
        if type(value) is type(literal):
            return value in where.one_of
    met = (_compare(condition, record, properties) for condition in where.conditions)
    return any(met) if where.any_of else all(met)


def _count_option(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if not raw.isdigit():
        raise BcFault(400, "BadRequest", f"Invalid value '{raw}' for the {name} query option.")
    return int(raw)


def select_properties(
    request: Request,
    entity: str,
    records: Iterable[R],
    properties: Filterable[R],
    *,
    keyed: tuple[str, Callable[[list[Any]], Iterable[R]]] | None = None,
) -> list[R]:
    """The records `$filter` keeps, then the page `$skip` and `$top` ask for.

    The scan stops at the page's last record: paging through a large ledger would
    otherwise test every record for every page. `keyed`: a property the records are
    indexed by (a text), and the lookup of those with any of its values: a filter of
    equalities on it alone (`eq`, or `eq`s joined by `or`) tests only what the lookup
    finds, in order.
    """
    where = _odata_filter(request, entity, properties)
    if keyed is not None and where.conditions:
        key, lookup = keyed
        if all(
            name == key and op == "eq" and isinstance(value, str)
            for name, op, value in where.conditions
        ):
            records = lookup([literal for _, _, literal in where.conditions])
    skip = _count_option(request, "$skip") or 0
    top = _count_option(request, "$top")
    chosen = (record for record in records if _meets(where, record, properties))
    return list(itertools.islice(chosen, skip, None if top is None else skip + top))


def wants_expand(request: Request, navigation: str) -> bool:
    """Whether `$expand` asks for `navigation`, the only one the sandbox can expand."""
    expand = request.query_params.get("$expand")
    if expand is None:
        return False
    requested = {part.strip() for part in expand.split(",")}
    if requested - {navigation}:
        raise BcFault(400, "BadRequest", f"The sandbox cannot expand {expand!r}.")
    return True


def check_etag(request: Request, current: str) -> None:
    given = request.headers.get("If-Match")
    if given is None:
        raise BcFault(
            400,
            "BadRequest_InvalidToken",
            "Could not validate the client concurrency token required by the service. "
            "Please provide a valid token in the client request.",
        )
    if given not in ("*", current):
        raise BcFault(412, "Request_EntityChanged", "Another user has already changed the record.")


def round_amount(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-minor_unit_exponent(currency)), ROUND_HALF_UP)


def _render(value: Any) -> int | float:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"cannot render {type(value).__name__} as JSON")


class ODataResponse(JSONResponse):
    """JSON with BC's decimals as JSON numbers."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, default=_render, separators=(",", ":")).encode()


def bc_error(status: int, code: str, message: str) -> ODataResponse:
    """BC's OData error body, with the `CorrelationId` suffix BC puts on its messages."""
    correlation = uuid.uuid4()
    body = {"error": {"code": code, "message": f"{message}  CorrelationId:  {correlation}."}}
    return ODataResponse(body, status_code=status)


def routing_error(status: int, method: str, path: str) -> ODataResponse:
    """BC's answer to a path it does not serve (404) or a method it does not allow (405)."""
    if status == 405:
        return bc_error(
            405, "BadRequest_MethodNotAllowed", f"'{method}' requests for '{path}' are not allowed."
        )
    return bc_error(
        status, "BadRequest_ResourceNotFound", f"Resource not found for the segment '{path}'."
    )
