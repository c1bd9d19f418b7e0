"""The event contract (`openapi/asyncapi.json`): generated from the catalog, valid
AsyncAPI 3.0, released, and checked for breaking changes against its releases."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from app.governance import asyncapi
from app.governance.contracts import releases, render
from events.asyncapi import ENVELOPE
from events.catalog import CATALOG
from tests.support.governance import OPENAPI, spectral_lint

RULESET = OPENAPI / ".spectral-asyncapi.yaml"
COMMITTED = OPENAPI / "asyncapi.json"
POSTED = "com.ledgergate.invoice.posted.v1"


def committed() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(COMMITTED.read_text(encoding="utf-8"))
    return document


def contact() -> dict[str, Any]:
    info = json.loads((OPENAPI / "v1.json").read_text(encoding="utf-8"))["info"]
    return dict(info["contact"])


def released() -> list[Path]:
    return releases(OPENAPI / "released", asyncapi.NAME, asyncapi.MAJOR)


def test_the_committed_document_is_the_generated_one() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == render(asyncapi.generated(contact()))


def test_it_has_a_channel_and_a_schema_per_event_type_and_the_delivery_headers() -> None:
    document = committed()
    for event_type in CATALOG:
        key = event_type.removeprefix("com.ledgergate.")
        assert document["channels"][key]["address"] == "ledgergate." + ".".join(key.split(".")[:2])
        schema = CATALOG[event_type].model_json_schema()
        found = document["components"]["schemas"][event_type]
        assert (found["properties"], found["required"]) == (
            schema["properties"],
            schema["required"],
        )
        assert key in document["channels"]["webhook"]["messages"]
    traits = document["components"]["messageTraits"]
    assert traits["nats"]["headers"]["required"] == ["Nats-Msg-Id"]
    assert traits["webhook"]["headers"]["required"] == [
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    ]
    payload = document["components"]["messages"]["invoice.posted.v1"]["payload"]["allOf"]
    assert payload[1]["properties"]["data"] == {"$ref": f"#/components/schemas/{POSTED}"}


def test_it_is_valid_asyncapi_3() -> None:
    assert committed()["asyncapi"] == "3.0.0"
    assert spectral_lint([COMMITTED], RULESET) == []


def test_the_validation_bites(tmp_path: Path) -> None:
    document = committed()
    document["channels"]["webhook"]["subscribe"] = {"message": {}}  # an AsyncAPI 2 leftover
    del document["info"]["version"]
    broken = tmp_path / "asyncapi.json"
    broken.write_text(render(document), encoding="utf-8")
    assert {finding.rule for finding in spectral_lint([broken], RULESET)} >= {
        "asyncapi-3-document-resolved"
    }


def test_the_committed_document_is_its_newest_release() -> None:
    newest = released()[-1]
    assert newest.read_text(encoding="utf-8") == COMMITTED.read_text(encoding="utf-8")
    assert committed()["info"]["version"] == newest.stem == asyncapi.current_version()


def test_no_release_breaks_the_one_before_nor_the_committed_document_the_newest() -> None:
    documents = [json.loads(path.read_text(encoding="utf-8")) for path in released()]
    for previous, current in zip(documents, [*documents[1:], committed()], strict=True):
        assert asyncapi.breaking_changes(previous, current) == []


def _with(document: dict[str, Any], change: str) -> dict[str, Any]:
    """A copy of `document` with one change to the payload schemas."""
    changed = copy.deepcopy(document)
    schemas = changed["components"]["schemas"]
    posted = schemas[POSTED]
    if change == "type removed":
        del schemas[POSTED]
    elif change == "field removed":
        del posted["properties"]["erp_document_number"]
    elif change == "field retyped":
        posted["properties"]["total"] = {"type": "string"}
    elif change == "made required":
        posted["properties"]["note"] = {"type": "string"}
        posted["required"] = [*posted["required"], "note"]
    elif change == "enum narrowed":
        posted["properties"]["status"]["enum"] = ["posted"]
    elif change == "envelope field removed":
        del schemas[ENVELOPE]["properties"]["partnerid"]
    elif change == "optional field added":
        posted["properties"]["note"] = {"type": "string"}
    elif change == "type added":
        schemas["com.ledgergate.invoice.paid.v1"] = copy.deepcopy(posted)
    return changed


@pytest.mark.parametrize(
    ("change", "reported"),
    [
        ("type removed", f"{POSTED}: removed"),
        ("field removed", f"{POSTED}.erp_document_number: removed"),
        ("field retyped", f"{POSTED}.total: type changed"),
        ("made required", f"{POSTED}.note: made required"),
        ("enum narrowed", f"{POSTED}.status: enum lost ['posting_mismatch']"),
        ("envelope field removed", "CloudEvent.partnerid: removed"),
    ],
)
def test_the_check_catches_a_breaking_change(change: str, reported: str) -> None:
    base = committed()
    if change in ("made required", "enum narrowed"):  # their "before": optional, wider
        base = _with(base, "optional field added")
        base["components"]["schemas"][POSTED]["properties"]["status"]["enum"] = [
            "posted",
            "posting_mismatch",
        ]
    found = asyncapi.breaking_changes(base, _with(base, change))
    assert len(found) == 1
    assert found[0].startswith(reported)


@pytest.mark.parametrize("change", ["optional field added", "type added"])
def test_the_check_lets_a_compatible_change_pass(change: str) -> None:
    assert asyncapi.breaking_changes(committed(), _with(committed(), change)) == []


def test_release_snapshots_a_changed_document_as_the_next_minor(tmp_path: Path) -> None:
    versions = tmp_path / "versions.json"
    versions.write_text('{"v1": "1.2.0"}\n', encoding="utf-8")
    (tmp_path / "released" / "asyncapi").mkdir(parents=True)
    (tmp_path / "released" / "asyncapi" / "1.0.0.json").write_text(
        COMMITTED.read_text(encoding="utf-8"), encoding="utf-8"
    )
    (tmp_path / "asyncapi.json").write_text(render(committed()), encoding="utf-8")
    assert asyncapi.release(tmp_path, versions) == []  # nothing changed
    (tmp_path / "asyncapi.json").write_text(
        render(_with(committed(), "type added")), encoding="utf-8"
    )
    [snapshot] = asyncapi.release(tmp_path, versions)
    assert snapshot.name == "1.1.0.json"
    assert json.loads(versions.read_text(encoding="utf-8")) == {"asyncapi": "1.1.0", "v1": "1.2.0"}
    assert json.loads((tmp_path / "asyncapi.json").read_text())["info"]["version"] == "1.1.0"
