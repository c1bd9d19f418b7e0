"""Shared building blocks of canonical schemas."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from annotated_types import MaxLen
from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
)
from pydantic_core import CoreSchema, core_schema


def _not_a_number(value: object) -> object:
    if isinstance(value, int | float) or (
        isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+(\.\d*)?\s*", value)
    ):
        raise ValueError("use an ISO 8601 date-time with a time zone, not a number")
    return value


Instant = Annotated[
    AwareDatetime,
    BeforeValidator(_not_a_number),
    Field(examples=["2026-11-01T00:00:00Z"], description="ISO 8601 date-time with a time zone."),
]


def _iso_day(value: object) -> object:
    # Lax pydantic reads a number as a Unix timestamp; the contract says `format: date`.
    if not isinstance(value, date | str) or (
        isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value)
    ):
        raise ValueError("use an ISO 8601 date (YYYY-MM-DD)")
    return value


Day = Annotated[date, BeforeValidator(_iso_day)]
ShortText = Annotated[str, Field(min_length=1, max_length=200)]
Code = Annotated[str, Field(min_length=1, max_length=20, pattern=r"^[A-Z0-9][A-Z0-9_-]*$")]


def _checked_as_sent(schema: Any, model: type[BaseModel]) -> Any:
    """`schema` with each of `model`'s strings checked as sent (its published
    `maxLength`, `minLength` and `pattern`, whitespace and all) before it is stripped and
    checked again: stripping must not let through what the contract refuses. Nested models
    are left to their own class."""
    if isinstance(schema, list):
        return [_checked_as_sent(item, model) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if schema.get("type") == "model" and schema["cls"] is not model:
        return schema
    if schema.get("type") == "str":
        as_sent = {key: value for key, value in schema.items() if key != "ref"}
        return core_schema.chain_schema([{**as_sent, "strip_whitespace": False}, schema])
    return {key: _checked_as_sent(value, model) for key, value in schema.items()}


class InputModel(BaseModel):
    """Base of everything a caller sends: unknown fields are an error, not ignored. A
    string must keep its published limits as sent; the whitespace around it is then
    removed, and what is left must keep them too (a blank name is too short)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, str_max_length=10_000)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[BaseModel], handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        checked: CoreSchema = _checked_as_sent(handler(source), cls)
        return checked


class OutputModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Versioned(OutputModel):
    id: str
    version: int = Field(description="Incremented on every change; optimistic concurrency token.")
    created_at: datetime
    updated_at: datetime


class BackendRefs(OutputModel):
    """Cross-references to the same object in each backend."""

    billing: str | None = Field(default=None, description="Id in the billing system (Stripe).")
    erp: str | None = Field(default=None, description="Id in the ERP (Business Central).")
    crm: str | None = Field(default=None, description="Id in the CRM / channel platform.")


def fit(model: type[BaseModel], field: str, text: str) -> str:
    """`text` cut to the length `model.field` allows: a backend's field limits are declared
    once, on its schema, and text longer than a limit is cut here rather than refused."""
    for constraint in model.__pydantic_fields__[field].metadata:
        if isinstance(constraint, MaxLen):
            return text[: constraint.max_length]
    return text
