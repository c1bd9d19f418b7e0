"""Our own breaking-change checks, where Optic is blind: each mutation must fail the gate."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.governance import contracts
from app.governance.breaking import request_breaking_changes
from tests.support.governance import OPENAPI

Mutation = Callable[[dict[str, Any]], None]


def committed(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((OPENAPI / f"{name}.json").read_text(encoding="utf-8"))
    return document


def schema(document: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = document["components"]["schemas"][name]
    return found


def nullable_made_required(document: dict[str, Any]) -> None:
    update = schema(document, "CustomerUpdate")
    assert {"type": "null"} in update["properties"]["name"]["anyOf"]
    update.setdefault("required", []).append("name")


def max_length_tightened(document: dict[str, Any]) -> None:
    schema(document, "CancellationCreate")["properties"]["note"]["anyOf"][0]["maxLength"] = 100


def maximum_tightened(document: dict[str, Any]) -> None:
    schema(document, "SubscriptionCreate")["properties"]["quantity"]["maximum"] = 500


def minimum_raised(document: dict[str, Any]) -> None:
    schema(document, "SubscriptionCreate")["properties"]["quantity"]["minimum"] = 2


def min_length_raised(document: dict[str, Any]) -> None:
    schema(document, "PaymentCreate")["properties"]["reference"]["anyOf"][0]["minLength"] = 5


def max_items_added(document: dict[str, Any]) -> None:
    for item in schema(document, "InvoiceCreate")["properties"].values():
        if item.get("type") == "array":
            item["maxItems"] = 1
            return
    raise AssertionError("InvoiceCreate has no array to bound")


def parameter_limit_tightened(document: dict[str, Any]) -> None:
    listing = document["paths"]["/v1/settlements/{settlement_id}/lineage"]["get"]
    limit = next(p for p in listing["parameters"] if p["name"] == "limit")
    limit["schema"]["maximum"] = 10


def optional_parameter_made_required(document: dict[str, Any]) -> None:
    listing = document["paths"]["/v1/settlements/{settlement_id}/lineage"]["get"]
    next(p for p in listing["parameters"] if p["name"] == "limit")["required"] = True


@pytest.mark.parametrize(
    "mutate",
    [
        nullable_made_required,
        max_length_tightened,
        maximum_tightened,
        minimum_raised,
        min_length_raised,
        max_items_added,
        parameter_limit_tightened,
        optional_parameter_made_required,
    ],
)
def test_the_gate_catches(mutate: Mutation) -> None:
    released = committed("v1")
    changed = copy.deepcopy(released)
    mutate(changed)
    assert request_breaking_changes(released, changed) != []


def test_loosening_and_unchanged_contracts_pass() -> None:
    released = committed("v1")
    assert request_breaking_changes(released, released) == []
    loosened = copy.deepcopy(released)
    schema(loosened, "SubscriptionCreate")["properties"]["quantity"]["maximum"] = 100_000
    schema(loosened, "CancellationCreate")["properties"]["note"]["anyOf"][0]["maxLength"] = 900
    assert request_breaking_changes(released, loosened) == []


def read(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def test_no_release_breaks_the_one_before_it() -> None:
    findings = []
    for contract in contracts.CONTRACTS:
        chain = contracts.releases(OPENAPI / "released", contract.name, contract.major)
        chain.append(OPENAPI / f"{contract.name}.json")
        for old, new in zip(chain, chain[1:], strict=False):
            if not contracts.is_correction(contract.name, new):
                findings.extend(request_breaking_changes(read(old), read(new)))
    assert findings == []
