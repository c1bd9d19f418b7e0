"""The Channel API's conventions: root, value sets, error body and request readers."""

from __future__ import annotations

from datetime import date
from typing import Any

from sandboxes.json_api import JsonApi, JsonObject, WireError

API_ROOT = "/api/v1"
PARTNER_STATUSES = ("active", "suspended", "terminated")
PARTNER_TIERS = ("registered", "silver", "gold")
REGISTRATION_STATUSES = ("pending", "approved", "rejected", "expired")


class ChannelError(WireError):
    """`{"error": {"code", "message", "field"}}`."""

    def body(self) -> JsonObject:
        error: JsonObject = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        return {"error": error}


CHANNEL = JsonApi(
    state_attribute="crm",
    auth_scheme="Bearer",
    error=ChannelError,
    invalid_code="invalid_request",
    unauthenticated_code="unauthenticated",
)


def read_date(value: Any, name: str) -> date:
    """A `YYYY-MM-DD` string."""
    try:
        return date.fromisoformat(value) if isinstance(value, str) else CHANNEL.bad(name)
    except ValueError:
        return CHANNEL.bad(name)


def read_tiers(body: JsonObject, name: str) -> list[str]:
    """A non-empty list of non-empty strings."""
    value = body.get(name)
    if not isinstance(value, list) or not value or not all(isinstance(t, str) and t for t in value):
        CHANNEL.bad(name)
    return value
