"""The contracts in `openapi/`: committed, served, split from the one served document.

A change to a route changes the served document; these tests fail until
`make openapi` regenerates the committed contracts, so the diff shows in review.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from app.governance import contracts, route_table
from app.governance.openapi import PROPERTY_EXAMPLES, example_of, operations, schema_refs
from app.governance.query_parameters import single_valued
from app.governance.route_table import path_items
from app.governance.versioning import SUCCESSOR_EXTENSION, deprecated_operations
from app.main import create_app
from core.settings import Settings
from tests.support.governance import OPENAPI
from tests.support.production import PRODUCTION


def new_app(**overrides: object) -> FastAPI:
    values: dict[str, object] = {"environment": "test", **overrides}
    return create_app(Settings(_env_file=None, **values))  # type: ignore[arg-type]


def drifted(app: FastAPI, directory: Path) -> list[str]:
    """The contracts whose committed file in `directory` differs from what `app` serves."""
    return [
        name
        for name, document in contracts.split(app.openapi()).items()
        if not (directory / f"{name}.json").exists()
        or (directory / f"{name}.json").read_text(encoding="utf-8") != contracts.render(document)
    ]


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return new_app()


def test_the_committed_contracts_are_the_served_ones(app: FastAPI) -> None:
    assert drifted(app, OPENAPI) == [], "run `make openapi` and commit openapi/"


async def test_each_contract_is_served_as_committed(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        for name in contracts.CONTRACT_NAMES:
            response = await client.get(f"/openapi/{name}.json")
            assert response.status_code == 200
            committed = (OPENAPI / f"{name}.json").read_text(encoding="utf-8")
            assert response.json() == json.loads(committed), name
        assert (await client.get("/openapi/v9.json")).status_code == 404
        whole = (await client.get("/openapi.json")).json()
    assert whole["paths"], "/openapi.json stays the whole document"


def test_every_operation_is_in_exactly_one_contract(app: FastAPI) -> None:
    whole = {(path, method) for path, method, _ in operations(app.openapi())}
    split = [
        (path, method)
        for document in contracts.split(app.openapi()).values()
        for path, method, _ in operations(document)
    ]
    assert sorted(split) == sorted(whole)


def test_the_route_table_lists_the_documents_paths_and_methods(app: FastAPI) -> None:
    """A 405's `Allow` reads the routes; it must name what the document does."""
    document = {
        template: {method.upper() for method in item}
        for template, item in app.openapi()["paths"].items()
    }
    assert {item.template: set(item.methods) for item in path_items(app)} == document


def test_the_deprecated_operations_are_the_documents(app: FastAPI) -> None:
    """`/versions` lists them off the routes; the document is what clients read."""
    document = [
        (operation.get("operationId"), method.upper(), path, operation.get(SUCCESSOR_EXTENSION))
        for path, item in app.openapi()["paths"].items()
        for method, operation in item.items()
        if operation.get("deprecated")
    ]
    listed = [(o.operation_id, o.method, o.path, o.successor) for o in deprecated_operations(app)]
    assert listed == document
    assert listed  # v1 deprecates operations


def test_the_single_valued_query_parameters_are_the_documents(app: FastAPI) -> None:
    """A repeated query parameter is refused by its route's parameters; the document
    is what clients read, so both must call the same ones single-valued."""
    paths = app.openapi()["paths"]
    for operation in route_table.operations(app):
        documented = paths[operation.template][operation.method.lower()]
        expected = {
            parameter["name"]
            for parameter in documented.get("parameters", [])
            if parameter["in"] == "query" and '"array"' not in json.dumps(parameter["schema"])
        }
        route = operation.route
        assert single_valued(route) == expected, operation.operation_id  # type: ignore[arg-type]


def test_contracts_take_their_paths_by_prefix() -> None:
    assert contracts.contract_of("/v2/invoices").name == "v2"
    assert contracts.contract_of("/partner/v1/invoices").name == "partner-v1"
    assert contracts.contract_of("/ops/v1/audit").name == "ops-v1"
    assert contracts.contract_of("/system/crm/v1/partners/{partner_id}").name == "system-v1"
    assert contracts.contract_of("/healthz").name == "v1"
    with pytest.raises(contracts.UnassignedPathError):
        contracts.contract_of("/internal/debug")


def test_a_contract_stands_alone(app: FastAPI) -> None:
    """Each document holds exactly the schemas it references, and its security scheme."""
    for name, document in contracts.split(app.openapi()).items():
        text = json.dumps(document)
        for schema in document["components"]["schemas"]:
            assert f'"#/components/schemas/{schema}"' in text, (name, schema)
        for reference in schema_refs(document):
            assert reference in document["components"]["schemas"], (name, reference)
        if any(op["security"] for _, _, op in operations(document)):
            assert "OAuth2" in document["components"]["securitySchemes"]


def test_writing_is_deterministic(app: FastAPI, tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    contracts.write(app, first)
    contracts.write(new_app(), second)
    for name in contracts.CONTRACT_NAMES:
        text = (first / f"{name}.json").read_text(encoding="utf-8")
        assert text == (second / f"{name}.json").read_text(encoding="utf-8")
        assert (
            text
            == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        )


def test_drift_bites_when_a_route_changes(tmp_path: Path) -> None:
    """A route added after the contracts were committed: the drift check names its contract."""
    committed = tmp_path / "openapi"
    shutil.copytree(OPENAPI, committed)
    edited = new_app()

    @edited.get(
        "/partner/v1/payouts",
        operation_id="partner-payouts-list",
        summary="List payouts",
    )
    async def payouts() -> list[str]:
        """The partner's payouts."""
        return []

    assert drifted(edited, committed) == ["partner-v1"]
    contracts.write(edited, committed)  # what `make openapi` does
    assert drifted(edited, committed) == []


def test_drift_bites_when_a_committed_file_is_edited(app: FastAPI, tmp_path: Path) -> None:
    committed = tmp_path / "openapi"
    shutil.copytree(OPENAPI, committed)
    document = json.loads((committed / "partner-v1.json").read_text(encoding="utf-8"))
    document["info"]["description"] = "Edited by hand."
    (committed / "partner-v1.json").write_text(contracts.render(document), encoding="utf-8")
    assert drifted(app, committed) == ["partner-v1"]


def test_production_serves_no_contracts_and_no_docs() -> None:
    production = new_app(**PRODUCTION)
    paths = {getattr(route, "path", None) for route in production.routes}
    assert not paths & {"/docs", "/redoc", "/openapi.json", "/openapi/{name}.json", "/docs/assets"}


# Releases: openapi/released/<name>/<version>.json


def test_every_served_contract_is_its_newest_release(app: FastAPI) -> None:
    """A served contract that differs from its newest release needs `make openapi-release`."""
    unreleased = []
    for name, document in contracts.split(app.openapi()).items():
        if not document["paths"]:
            continue
        base = contracts.baseline(OPENAPI / "released", name, document["info"]["version"])
        if base is None or json.loads(base.read_text(encoding="utf-8")) != document:
            unreleased.append(name)
    assert unreleased == [], "run `make openapi-release` and commit openapi/ and the versions"


def test_the_baseline_is_the_newest_release_of_the_same_major(tmp_path: Path) -> None:
    for version in ("1.0.0", "1.2.0", "1.10.1", "2.0.0"):
        (tmp_path / "v1").mkdir(exist_ok=True)
        (tmp_path / "v1" / f"{version}.json").write_text("{}", encoding="utf-8")
    assert contracts.baseline(tmp_path, "v1", "1.3.0") == tmp_path / "v1" / "1.10.1.json"
    assert contracts.baseline(tmp_path, "v1", "2.1.0") == tmp_path / "v1" / "2.0.0.json"
    assert contracts.baseline(tmp_path, "v1", "3.0.0") is None
    assert contracts.baseline(tmp_path, "v2", "1.0.0") is None


def test_releasing_bumps_minor_for_additions_and_patch_for_prose(tmp_path: Path) -> None:
    directory = tmp_path / "openapi"
    shutil.copytree(OPENAPI, directory)
    shutil.rmtree(directory / "released")
    versions = tmp_path / "versions.json"
    created = contracts.release(directory, versions)
    assert {path.parent.name for path in created} == set(contracts.CONTRACT_NAMES)
    assert contracts.release(directory, versions) == []  # same content: nothing to do
    first = (directory / "released" / "v2" / "2.0.0.json").read_text(encoding="utf-8")

    document = json.loads((directory / "v2.json").read_text(encoding="utf-8"))
    document["paths"]["/v2/invoices/{invoice_id}/copy"] = document["paths"][
        "/v2/invoices/{invoice_id}"
    ]
    (directory / "v2.json").write_text(contracts.render(document), encoding="utf-8")
    assert contracts.release(directory, versions) == [directory / "released/v2/2.1.0.json"]
    stamped = json.loads((directory / "v2.json").read_text(encoding="utf-8"))
    assert stamped["info"]["version"] == "2.1.0"
    assert contracts.released_versions(versions)["v2"] == "2.1.0"

    stamped["info"]["description"] = "Reworded."
    (directory / "v2.json").write_text(contracts.render(stamped), encoding="utf-8")
    assert contracts.release(directory, versions) == [directory / "released/v2/2.1.1.json"]
    assert (directory / "released" / "v2" / "2.0.0.json").read_text(encoding="utf-8") == first


# Examples


def test_made_up_examples_follow_the_schema() -> None:
    schemas = {
        "InvoiceResource": {
            "type": "object",
            "properties": {
                "id": {"type": "string", "pattern": "^inv_[0-9a-hjkmnp-tv-z]{26}$"},
                "total": {"type": "integer", "minimum": 0},
                "status": {"enum": ["open", "posted"]},
                "due_date": {"type": "string", "format": "date"},
                "country": {"type": "string", "pattern": "^[A-Z]{2}$"},
                "lines": {"type": "array", "items": {"type": "integer", "maximum": 5}},
            },
        }
    }
    example = example_of({"$ref": "#/components/schemas/InvoiceResource"}, schemas)
    assert example == {
        "id": "inv_00000000000000000000000001",
        "total": PROPERTY_EXAMPLES["total"],
        "status": "open",
        "due_date": "2026-11-25",
        "country": "US",
        "lines": [1],
    }


def test_a_pattern_no_example_fits_is_refused() -> None:
    with pytest.raises(ValueError, match="PROPERTY_EXAMPLES"):
        example_of({"type": "string", "pattern": "^[0-9]{4}-Q[1-4]$"}, {}, "quarter")
