"""Money: integer minor units plus an ISO 4217 currency. Never a float."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt

from core.currencies import MINOR_UNIT_EXPONENTS, is_known_currency

MAX_MINOR_UNITS = 10**15  # a quadrillion minor units: beyond any single document


def _known_currency(code: str) -> str:
    if not is_known_currency(code):
        raise ValueError(f"{code!r} is not an active ISO 4217 currency code")
    return code


CurrencyCode = Annotated[
    str,
    Field(
        pattern=r"^[A-Z]{3}$",
        description="ISO 4217 alphabetic code, upper case.",
        examples=["USD"],
    ),
    AfterValidator(_known_currency),
]

MinorUnits = Annotated[
    StrictInt,
    Field(
        ge=-MAX_MINOR_UNITS,
        le=MAX_MINOR_UNITS,
        description="Amount in minor units (cents for USD): an integer, never a float.",
        examples=[1999],
    ),
]

NonNegativeMinorUnits = Annotated[StrictInt, Field(ge=0, le=MAX_MINOR_UNITS, examples=[1999])]


class Money(BaseModel):
    """An amount in minor units and its currency."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    amount: MinorUnits
    currency: CurrencyCode


def to_decimal(amount: int, currency: str) -> Decimal:
    """Minor units as a decimal major-unit amount: `to_decimal(1999, "USD") == Decimal("19.99")`."""
    return Decimal(amount).scaleb(-MINOR_UNIT_EXPONENTS[currency])


def from_decimal(value: Decimal | float | int | str, currency: str) -> int:
    """A major-unit amount as minor units; refuses values finer than the currency's minor unit."""
    scaled = Decimal(str(value)).scaleb(MINOR_UNIT_EXPONENTS[currency])
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{value} has more precision than {currency} allows")
    return int(scaled)
