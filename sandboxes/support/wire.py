"""The Desk API's conventions: root, policies, error body, instants and request readers."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from core.currencies import minor_unit_exponent
from sandboxes.json_api import JsonApi, JsonObject, WireError

API_ROOT = "/desk/v2"
TIERS = ("enterprise", "pro", "starter")  # highest first
SLA_POLICY: dict[str | None, tuple[str, int]] = {
    "enterprise": ("urgent", 60),
    "pro": ("high", 240),
    "starter": ("normal", 480),
    None: ("low", 2880),
}
REASONS = ("outage", "sla_breach", "billing_error", "goodwill")
CREDIT_STATUSES = ("requested", "approved", "rejected")
FIRST_TICKET_NUMBER = 1001


def instant(value: datetime | None) -> str | None:
    """ISO 8601 in UTC, to the second, with `Z`."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class DeskError(WireError):
    """`{"errors": [{"code", "detail", "field"}]}`."""

    def body(self) -> JsonObject:
        error: JsonObject = {"code": self.code, "detail": self.message}
        if self.field is not None:
            error["field"] = self.field
        return {"errors": [error]}


DESK = JsonApi(
    state_attribute="desk",
    auth_scheme="Token",
    error=DeskError,
    invalid_code="invalid",
    unauthenticated_code="unauthorized",
    visible_text_only=True,
)


def read_choice(body: JsonObject, name: str, choices: tuple[str, ...]) -> str:
    value = body.get(name)
    if value not in choices:
        DESK.bad(name)
    return str(value)


def read_amount(body: JsonObject, currency: str) -> Decimal:
    """A positive decimal string with no more places than the currency has."""
    raw = body.get("amount")
    try:
        amount = Decimal(raw) if isinstance(raw, str) else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount <= 0:
        raise DeskError(400, "invalid", "amount must be a positive decimal string", "amount")
    scaled = amount.scaleb(minor_unit_exponent(currency))
    if scaled != scaled.to_integral_value():
        raise DeskError(400, "invalid", f"amount is finer than {currency} allows", "amount")
    return amount
