"""Usage quantities: an integer or a decimal string, stored exactly as an integer of
millionths (`micros`), never a float."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, StrictInt, StringConstraints

SCALE = 1_000_000
FRACTION_DIGITS = 6
# Largest quantity one event or one rule may carry: 10^12 units.
MAX_UNITS = 10**12

DecimalString = Annotated[str, StringConstraints(pattern=r"^\d{1,13}(\.\d{1,6})?$", max_length=20)]
QUANTITY_DESCRIPTION = (
    "A non-negative integer, or a decimal string with at most 6 fractional digits "
    '(`"12.5"`); never a JSON number with a fraction.'
)


def _no_float(value: object) -> object:
    if isinstance(value, float):
        raise ValueError("a quantity is an integer or a decimal string, never a float")
    return value


def to_micros(value: int | str) -> int:
    """`value` in millionths of a unit; refuses negatives and more than `MAX_UNITS`."""
    if isinstance(value, bool):
        raise ValueError("a quantity is not a boolean")
    if isinstance(value, int):
        micros = value * SCALE
    else:
        if not re.fullmatch(r"\d+(\.\d{1,6})?", value):
            raise ValueError(f"{value!r} is not a decimal quantity")
        micros = int(Decimal(value) * SCALE)
    if not 0 <= micros <= MAX_UNITS * SCALE:
        raise ValueError(f"a quantity lies between 0 and {MAX_UNITS}")
    return micros


def from_micros(micros: int) -> str:
    """The decimal string of `micros`, without trailing zeros (`12.5`, `3`)."""
    units, fraction = divmod(micros, SCALE)
    if not fraction:
        return str(units)
    return f"{units}.{fraction:06d}".rstrip("0")


def is_whole(micros: int) -> bool:
    return micros % SCALE == 0


def _bounded(value: int | str) -> int | str:
    to_micros(value)
    return value


Quantity = Annotated[
    StrictInt | DecimalString,
    BeforeValidator(_no_float),
    AfterValidator(_bounded),
    Field(description=QUANTITY_DESCRIPTION, examples=[3, "12.5"]),
]
