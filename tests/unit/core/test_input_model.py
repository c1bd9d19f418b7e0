"""What a caller sends is checked against the published string limits as sent; the
gateway then removes the whitespace around it."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import Field, ValidationError

from core.canonical.base import Code, InputModel, ShortText
from core.canonical.parties import CustomerCreate


class Inner(InputModel):
    code: Code


class Sample(InputModel):
    name: ShortText
    note: str = Field(default="", max_length=5)
    text: str = ""
    inner: list[Inner] = []
    tags: dict[str, str] = {}


def refusals(**data: Any) -> list[tuple[tuple[int | str, ...], str]]:
    with pytest.raises(ValidationError) as refused:
        Sample.model_validate(data)
    return [(error["loc"], error["type"]) for error in refused.value.errors()]


def test_the_published_max_length_counts_the_whitespace_sent() -> None:
    assert refusals(name="x", note="  abc  ") == [(("note",), "string_too_long")]
    assert refusals(name=" " * 200 + "x") == [(("name",), "string_too_long")]
    assert refusals(name="x", text=" " * 10_000 + "x") == [(("text",), "string_too_long")]


def test_the_published_pattern_applies_to_the_value_sent() -> None:
    assert refusals(name="x", inner=[{"code": " AB "}]) == [
        (("inner", 0, "code"), "string_pattern_mismatch")
    ]


def test_within_the_limits_the_surrounding_whitespace_is_removed() -> None:
    sample = Sample.model_validate(
        {"name": " Acme ", "note": " ab ", "inner": [{"code": "AB"}], "tags": {" k ": " v "}}
    )

    assert (sample.name, sample.note, sample.tags) == ("Acme", "ab", {"k": "v"})


def test_a_value_blank_once_stripped_is_below_its_minimum_length() -> None:
    assert refusals(name="   ") == [(("name",), "string_too_short")]


def test_the_published_limits_are_unchanged() -> None:
    name = CustomerCreate.model_json_schema()["properties"]["name"]

    assert (name["type"], name["minLength"], name["maxLength"]) == ("string", 1, 200)
    assert Sample.model_json_schema()["properties"]["text"] == {
        "default": "",
        "maxLength": 10_000,
        "title": "Text",
        "type": "string",
    }
