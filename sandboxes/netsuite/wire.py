"""NetSuite's REST record service wire format: faults, links, references, body fields, queries."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from sandboxes.business_central.odata import ODataResponse

API_ROOT = "/services/rest/record/v1"
SERVICE_ITEM_ID = "20"


PENDING_APPROVAL, APPROVED = "1", "2"


APPROVAL_NAMES = {PENDING_APPROVAL: "Pending Approval", APPROVED: "Approved"}
CURRENCIES = {"1": ("USD", "US Dollar"), "2": ("EUR", "Euro"), "3": ("GBP", "British Pound")}
FIRST_RECORD_ID = 100
FIRST_TRAN_NUMBER = 1001
_CONDITION = re.compile(
    r'(\w+) (?:IS "((?:[^"\\]|\\.)*)"|ANY_OF \[\s*(\d+(?:\s*,\s*\d+)*)\s*\]'
    r'|(ON_OR_AFTER|ON_OR_BEFORE) "(\d{1,2})/(\d{1,2})/(\d{4})")'
)
PAGE_LIMIT = 1000
_AND = re.compile(r" AND ")
TITLES = {400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}
SECTIONS = {400: "15.5.1", 404: "15.5.5", 405: "15.5.6"}


class NsFault(Exception):
    """A refusal rendered as NetSuite's error body."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def links_of(request: Request, path: str) -> list[dict[str, str]]:
    return [{"rel": "self", "href": f"{request.url.scheme}://{request.url.netloc}{API_ROOT}{path}"}]


def ref_of(request: Request, record_type: str, record_id: str, name: str) -> dict[str, Any]:
    return {
        "links": links_of(request, f"/{record_type}/{record_id}"),
        "id": record_id,
        "refName": name,
    }


class NsResponse(ODataResponse):
    """JSON with decimals as JSON numbers, as Business Central writes them."""


def created(request: Request, record_type: str, record_id: str) -> Response:
    href = links_of(request, f"/{record_type}/{record_id}")[0]["href"]
    return Response(status_code=204, headers={"Location": href})


async def read_body(request: Request, allowed: frozenset[str]) -> dict[str, Any]:
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


def text_value(values: Mapping[str, Any], name: str, default: str | None = None) -> str:
    value = values.get(name, default)
    if not isinstance(value, str):
        raise NsFault(400, "INVALID_CONTENT", f"Field {name} must be a string.")
    return value


def number_value(values: Mapping[str, Any], name: str) -> Decimal:
    value = values.get(name)
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise NsFault(400, "INVALID_CONTENT", f"Field {name} must be a number.")
    return Decimal(value)


def date_value(values: Mapping[str, Any], name: str, default: date) -> date:
    if name not in values:
        return default
    try:
        return date.fromisoformat(text_value(values, name))
    except ValueError:
        raise NsFault(400, "INVALID_CONTENT", f"Field {name} must be a date.") from None


def ref_id(values: Mapping[str, Any], name: str) -> str:
    value = values.get(name)
    if not isinstance(value, dict) or not isinstance(value.get("id"), str) or len(value) != 1:
        raise NsFault(400, "INVALID_CONTENT", f'Field {name} must be a reference {{"id": "..."}}.')
    record_id: str = value["id"]
    return record_id


def invalid_ref(name: str, record_id: str) -> NsFault:
    return NsFault(400, "INVALID_KEY_OR_REF", f"Invalid {name} reference key {record_id}.")


Condition = tuple[str, str, str | frozenset[str] | date]


def query_conditions(request: Request, fields: frozenset[str]) -> list[Condition]:
    """The conditions of `q`: `IS` compares text, `ANY_OF` a reference's id, `ON_OR_AFTER`
    and `ON_OR_BEFORE` a date (written `M/D/YYYY`, the account's date format)."""
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
        name, literal, ids, operator, month, day, year = match.groups()
        if ids is not None:
            conditions.append((name, "ANY_OF", frozenset(i.strip() for i in ids.split(","))))
        elif operator is not None:
            try:
                conditions.append((name, operator, date(int(year), int(month), int(day))))
            except ValueError:
                raise NsFault(
                    400, "INVALID_CONTENT", f"Invalid date in search query: {text}."
                ) from None
        else:
            conditions.append((name, "IS", re.sub(r"\\(.)", r"\1", literal)))
    return conditions


def _meets(operator: str, value: str | date, wanted: str | frozenset[str] | date) -> bool:
    if operator == "ANY_OF":
        return isinstance(wanted, frozenset) and value in wanted
    if operator == "IS":
        return value == wanted
    if not isinstance(value, date) or not isinstance(wanted, date):
        raise NsFault(400, "INVALID_CONTENT", f"{operator} compares dates only.")
    return value >= wanted if operator == "ON_OR_AFTER" else value <= wanted


def meets(conditions: list[Condition], values: Mapping[str, str | date]) -> bool:
    return all(_meets(operator, values[name], wanted) for name, operator, wanted in conditions)


def page_of(request: Request) -> tuple[int, int]:
    """The `offset` and `limit` of a collection request (at most 1000 records a page)."""
    try:
        offset = int(request.query_params.get("offset", "0"))
        limit = int(request.query_params.get("limit", str(PAGE_LIMIT)))
    except ValueError:
        raise NsFault(400, "INVALID_PARAMETER", "offset and limit must be integers.") from None
    if offset < 0 or not 1 <= limit <= PAGE_LIMIT:
        raise NsFault(
            400, "INVALID_PARAMETER", f"offset must be 0 or more and limit 1 to {PAGE_LIMIT}."
        )
    return offset, limit
