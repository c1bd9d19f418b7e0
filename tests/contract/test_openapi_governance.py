"""The governance checks over `openapi/`: Spectral's style ruleset and Optic's breaking changes.

Each check passes on the committed contracts and is shown to bite on a copy that
breaks it, in a temporary directory (the real tree is never edited).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from app.governance import contracts
from tests.support.governance import OPENAPI, optic_breaking, optic_breaking_all, spectral_lint


def committed(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((OPENAPI / f"{name}.json").read_text(encoding="utf-8"))
    return document


def save(directory: Path, name: str, document: dict[str, Any]) -> Path:
    path = directory / f"{name}.json"
    path.write_text(contracts.render(document), encoding="utf-8")
    return path


def test_every_contract_passes_the_ruleset() -> None:
    documents = [OPENAPI / f"{name}.json" for name in contracts.CONTRACT_NAMES]
    assert spectral_lint(documents) == []


def test_the_ruleset_bites(tmp_path: Path) -> None:
    """One copy per rule of ours, each breaking it once: each is reported, and only there."""
    partner = committed("partner-v1")
    broken: dict[str, tuple[dict[str, Any], str]] = {}

    def variant(rule: str) -> dict[str, Any]:
        document = copy.deepcopy(partner)
        broken[f"{rule}"] = (document, rule)
        return document

    paths = variant("ledgergate-problem-json-errors")["paths"]
    not_found = paths["/partner/v1/invoices/{invoice_id}"]["get"]["responses"]["404"]
    not_found["content"] = {"application/json": not_found["content"]["application/problem+json"]}

    paths = variant("ledgergate-operation-id-tier-prefix")["paths"]
    paths["/partner/v1/invoices"]["get"]["operationId"] = "invoices-list-for-partner"

    paths = variant("ledgergate-operation-id-kebab-case")["paths"]
    paths["/partner/v1/invoices"]["get"]["operationId"] = "partner_invoicesList"

    paths = variant("ledgergate-pagination-parameters")["paths"]
    listing = paths["/partner/v1/customers"]["get"]
    listing["parameters"] = [p for p in listing["parameters"] if p["name"] != "limit"]

    paths = variant("ledgergate-security-required")["paths"]
    paths["/partner/v1/customers/{customer_id}"]["get"]["security"] = []

    paths = variant("ledgergate-security-declared")["paths"]
    del paths["/partner/v1/customers/{customer_id}"]["get"]["security"]

    paths = variant("ledgergate-versioned-paths")["paths"]
    paths["/customers"] = paths.pop("/partner/v1/customers")

    paths = variant("operation-description")["paths"]
    del paths["/partner/v1/invoices"]["get"]["description"]

    paths = variant("ledgergate-response-examples")["paths"]
    del paths["/partner/v1/invoices"]["get"]["responses"]["200"]["content"]["application/json"][
        "example"
    ]

    variant("tag-description")["tags"][0].pop("description")

    responses = variant("ledgergate-client-error-response")["paths"]["/partner/v1/invoices"]["get"][
        "responses"
    ]
    for status in [status for status in responses if status.startswith("4")]:
        del responses[status]

    paths = variant("ledgergate-parameter-description")["paths"]
    del paths["/partner/v1/customers/{customer_id}"]["get"]["parameters"][0]["description"]

    schemas = variant("ledgergate-property-casing")["components"]["schemas"]
    properties = next(s["properties"] for s in schemas.values() if "properties" in s)
    properties["nextCursor"] = properties.pop(next(iter(properties)))

    paths = variant("ledgergate-parameter-casing")["paths"]
    paths["/partner/v1/customers"]["get"]["parameters"][0]["name"] = "pageSize"

    paths = variant("ledgergate-path-casing")["paths"]
    paths["/partner/v1/dealRegistrations"] = paths.pop("/partner/v1/customers")

    del variant("ledgergate-contact-complete")["info"]["contact"]["email"]

    del variant("ledgergate-license-complete")["info"]["license"]["identifier"]

    files = {save(tmp_path, rule, document): rule for rule, (document, _) in broken.items()}
    findings = spectral_lint(list(files))
    for path, rule in files.items():
        reported = {finding.rule for finding in findings if finding.file == path.name}
        assert rule in reported, (rule, reported)


def test_no_release_breaks_the_one_before_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Optic over each contract's newest release against the one before it, and over the
    committed document against the newest release when they differ (our own checks, in
    `test_breaking_changes.py`, walk every release). A declared correction
    (`app/governance/contract_corrections.json`) is exempt from the step into it. Run as
    under CI, where Optic writes its run's details where it runs: never into `openapi/`."""
    monkeypatch.setenv("CI", "true")
    pairs = []
    for contract in contracts.CONTRACTS:
        chain = contracts.releases(OPENAPI / "released", contract.name, contract.major)
        head = OPENAPI / f"{contract.name}.json"
        if chain and chain[-1].read_text(encoding="utf-8") != head.read_text(encoding="utf-8"):
            chain.append(head)
        pairs.extend(
            (old, new)
            for old, new in zip(chain[-2:-1], chain[-1:], strict=True)
            if not contracts.is_correction(contract.name, new)
        )
    failures = [report.output for report in optic_breaking_all(pairs) if not report.passed]
    assert failures == []
    assert sorted(OPENAPI.rglob("ci-run-details.json")) == []


def test_the_breaking_change_check_bites(tmp_path: Path) -> None:
    """v2 with an operation removed, a required parameter and a required field added,
    and a response field removed: each is a breaking change of the released 2.x."""
    document = committed("v2")
    del document["paths"]["/v2/invoices/{invoice_id}"]
    create = document["paths"]["/v2/invoices"]["post"]
    create.setdefault("parameters", []).append(
        {"name": "tenant", "in": "query", "required": True, "schema": {"type": "string"}}
    )
    schemas = document["components"]["schemas"]
    schemas["InvoiceCreateV2"]["properties"]["purchase_order"] = {"type": "string"}
    schemas["InvoiceCreateV2"]["required"].append("purchase_order")
    del schemas["PostingResultV2"]["properties"]["already_posted"]
    schemas["PostingResultV2"]["required"].remove("already_posted")
    base = contracts.baseline(OPENAPI / "released", "v2", document["info"]["version"])
    assert base is not None
    report = optic_breaking(base, save(tmp_path, "v2", document))
    assert not report.passed
    assert {
        "prevent operation removal",
        "prevent new required query parameters",
        "prevent changing request property to required",
        "prevent removing response property",
    } <= report.rules, report.output


def test_additions_are_not_breaking(tmp_path: Path) -> None:
    document = committed("ops-v1")
    listing = document["paths"]["/ops/v1/audit"]["get"]
    listing["parameters"].append(
        {"name": "route", "in": "query", "required": False, "schema": {"type": "string"}}
    )
    base = contracts.baseline(OPENAPI / "released", "ops-v1", document["info"]["version"])
    assert base is not None
    report = optic_breaking(base, save(tmp_path, "ops-v1", document))
    assert report.passed, report.output
