from decimal import Decimal

import pytest
from pydantic import ValidationError

from core.currencies import minor_unit_exponent
from core.money import Money, from_decimal, to_decimal


def test_money_takes_integer_minor_units_and_a_known_currency() -> None:
    assert Money(amount=1999, currency="USD").amount == 1999


@pytest.mark.parametrize("amount", [19.99, 10.0, "1999", True])
def test_money_rejects_anything_but_an_integer(amount: object) -> None:
    with pytest.raises(ValidationError):
        Money(amount=amount, currency="USD")  # type: ignore[arg-type]


@pytest.mark.parametrize("currency", ["usd", "XXX", "US", "EURO", "ABC"])
def test_money_rejects_unknown_or_malformed_currencies(currency: str) -> None:
    with pytest.raises(ValidationError):
        Money(amount=1, currency=currency)


def test_money_rejects_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        Money.model_validate({"amount": 1, "currency": "USD", "cents": 1})


@pytest.mark.parametrize(
    ("currency", "exponent"), [("USD", 2), ("JPY", 0), ("KWD", 3), ("EUR", 2), ("CLP", 0)]
)
def test_minor_unit_exponents_follow_iso_4217(currency: str, exponent: int) -> None:
    assert minor_unit_exponent(currency) == exponent


@pytest.mark.parametrize(
    ("minor", "currency", "major"),
    [
        (1999, "USD", Decimal("19.99")),
        (500, "JPY", Decimal("500")),
        (1234, "KWD", Decimal("1.234")),
    ],
)
def test_decimal_conversion_round_trips(minor: int, currency: str, major: Decimal) -> None:
    assert to_decimal(minor, currency) == major
    assert from_decimal(major, currency) == minor


def test_from_decimal_refuses_sub_minor_precision() -> None:
    with pytest.raises(ValueError, match="precision"):
        from_decimal("19.999", "USD")
