"""The contracts: one OpenAPI document per tier and URL major version, split from the served one.

`/openapi.json` stays the whole; `split()` cuts it by path prefix into the documents
committed in `openapi/` and served at `/openapi/<name>.json`. Each document carries only
the components its operations use, so it stands alone. A path no contract claims is an
error, so a new router cannot ship undocumented: it lands in a contract by its prefix
(`/system/<backend>/v1/...` joins `system-v1` without a change here).

`openapi/released/<name>/<version>.json` are the published snapshots. A served document
is always its newest release: `release` snapshots a changed document under the next
minor version (operations, fields, anything a client can use) or patch version (prose
and examples only), records it in `contract_versions.json` (which the served documents'
`info.version` comes from, shipped with the package) and stamps the committed document.
The breaking-change checks compare each release with the one before it.

    python -m app.contracts write     # regenerate openapi/*.json (make openapi)
    python -m app.contracts release   # release what changed (make openapi-release)
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from app.governance.openapi import operations, schema_refs

# Served outside any URL version: probes, metrics, tokens and their keys, the version
# list and signed webhooks. They are documented in the `v1` contract.
PUBLIC_PATHS = frozenset(
    {
        "/healthz",
        "/readyz",
        "/metrics",
        "/versions",
        "/oauth/token",
        "/.well-known/jwks.json",
        "/webhooks/billing/stripe",
        "/webhooks/crm/channel",
    }
)
SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
VERSIONS_FILE = Path(__file__).with_name("contract_versions.json")
# Changing only these is a patch release; changing anything else a minor one.
PROSE = frozenset({"description", "summary", "example", "examples"})


def released_versions(path: Path = VERSIONS_FILE) -> dict[str, str]:
    """The newest released version of each contract, as `release` recorded it."""
    if not path.exists():
        return {}
    versions: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return versions


RELEASED_VERSIONS = released_versions()
CORRECTIONS_FILE = Path(__file__).with_name("contract_corrections.json")


def corrections(path: Path = CORRECTIONS_FILE) -> dict[str, dict[str, str]]:
    """Releases the breaking-change gates accept from the release before, each with why.

    A correction aligns a contract with what the gateway already enforced, or adds a
    status a new business state needs; it is reviewed like any release, and only the
    step into it is exempt: the releases after it are checked against it as usual.
    """
    if not path.exists():
        return {}
    listed: dict[str, dict[str, str]] = json.loads(path.read_text(encoding="utf-8"))
    return listed


def is_correction(name: str, release: Path) -> bool:
    """Whether `release` (`openapi/released/<name>/<version>.json`) is a declared correction."""
    return release.stem in corrections().get(name, {})


@dataclass(frozen=True)
class Contract:
    """One committed document: the paths matching `pattern` (and the public ones if `public`)."""

    name: str
    title: str
    description: str
    major: int
    pattern: str
    public: bool = False

    @property
    def version(self) -> str:
        """The newest release of this major version (x.0.0 before the first one)."""
        released = RELEASED_VERSIONS.get(self.name, "")
        if SEMVER.match(released) and _semver(released)[0] == self.major:
            return released
        return f"{self.major}.0.0"

    def claims(self, path: str) -> bool:
        return re.match(self.pattern, path) is not None or (self.public and path in PUBLIC_PATHS)


CONTRACTS = (
    Contract(
        "v1",
        "Ledgergate process APIs v1",
        "Process APIs for SaaS platforms: legal entities, customers, invoices and their "
        "posting to the ERP, workflow runs; and the public platform routes (tokens, keys, "
        "health, metrics, versions, webhooks). The invoice operations are deprecated in "
        "favour of `/v2/invoices` (see `GET /versions`).",
        1,
        r"^/v1/",
        public=True,
    ),
    Contract(
        "v2",
        "Ledgergate process APIs v2",
        "Invoices with money as `{amount, currency}` objects, on the same workflows as v1.",
        2,
        r"^/v2/",
    ),
    Contract(
        "partner-v1",
        "Ledgergate partner portal API v1",
        "Experience API for partner portals: a partner-bound token sees only its own "
        "partner's customers, invoices and statements.",
        1,
        r"^/partner/v1/",
    ),
    Contract(
        "ops-v1",
        "Ledgergate finance operations API v1",
        "Experience API for finance operations: audit trail, exception queue, replay and "
        "reconciliation against the ERP.",
        1,
        r"^/ops/v1/",
    ),
    Contract(
        "system-v1",
        "Ledgergate system APIs v1",
        "One canonical API per backend (ERP, billing, CRM, support) for trusted internal "
        "callers; adapters map it to each vendor's wire format.",
        1,
        r"^/system/[a-z][a-z0-9-]*/v1/",
    ),
)
CONTRACT_NAMES = tuple(contract.name for contract in CONTRACTS)


class UnassignedPathError(ValueError):
    """A served path that no contract claims."""


def contract_of(path: str) -> Contract:
    claimants = [contract for contract in CONTRACTS if contract.claims(path)]
    if len(claimants) != 1:
        raise UnassignedPathError(
            f"{path} is claimed by {len(claimants)} contracts; give it a versioned prefix "
            "(/v1/, /partner/v1/, ...) or list it in PUBLIC_PATHS"
        )
    return claimants[0]


def _used_schemas(paths: Mapping[str, Any], schemas: Mapping[str, Any]) -> dict[str, Any]:
    """The component schemas `paths` reference, directly or through other schemas."""
    used: dict[str, Any] = {}
    pending = list(schema_refs(paths))
    while pending:
        name = pending.pop()
        if name not in used:
            used[name] = schemas[name]
            pending.extend(schema_refs(schemas[name]))
    return used


def _document(
    contract: Contract, whole: Mapping[str, Any], paths: dict[str, Any]
) -> dict[str, Any]:
    components = whole.get("components", {})
    used_tags = {tag for _, _, op in operations({"paths": paths}) for tag in op.get("tags", [])}
    document: dict[str, Any] = {
        "openapi": whole["openapi"],
        "info": {
            **{k: v for k, v in whole["info"].items() if k in ("contact", "license")},
            "title": contract.title,
            "description": contract.description,
            "version": contract.version,
        },
        "servers": whole.get("servers", [{"url": "/"}]),
        "paths": paths,
        "tags": [tag for tag in whole.get("tags", []) if tag["name"] in used_tags],
        "components": {"schemas": _used_schemas(paths, components.get("schemas", {}))},
    }
    schemes = {
        name
        for _, _, op in operations(document)
        for requirement in op.get("security", [])
        for name in requirement
    }
    if schemes:
        document["components"]["securitySchemes"] = {
            name: components["securitySchemes"][name] for name in sorted(schemes)
        }
    return document


def split(whole: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The whole served document cut into the contracts, by path: name -> document."""
    paths: dict[str, dict[str, Any]] = {contract.name: {} for contract in CONTRACTS}
    for path, item in whole.get("paths", {}).items():
        paths[contract_of(path).name][path] = item
    return {
        contract.name: _document(contract, whole, paths[contract.name]) for contract in CONTRACTS
    }


def render(document: Mapping[str, Any]) -> str:
    """The committed form: sorted keys, two-space indent, one trailing newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def contracts_of(app: FastAPI) -> dict[str, dict[str, Any]]:
    """The app's contracts, split once from its (cached) OpenAPI document."""
    cached: dict[str, dict[str, Any]] | None = getattr(app.state, "contracts", None)
    if cached is None:
        cached = split(app.openapi())
        app.state.contracts = cached
    return cached


router = APIRouter(include_in_schema=False)


@router.get("/openapi/{name}.json")
async def contract_document(name: str, request: Request) -> JSONResponse:
    """One contract, as committed in `openapi/<name>.json`."""
    documents = contracts_of(request.app)
    if name not in documents:
        raise HTTPException(404, f"no contract {name}; there are {', '.join(CONTRACT_NAMES)}")
    return JSONResponse(documents[name])


# Files: the committed documents and their released snapshots.


def write(app: FastAPI, directory: Path) -> list[Path]:
    """Write every contract to `directory/<name>.json`; the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, document in contracts_of(app).items():
        target = directory / f"{name}.json"
        target.write_text(render(document), encoding="utf-8")
        written.append(target)
    return written


def _semver(version: str) -> tuple[int, int, int]:
    match = SEMVER.match(version)
    if match is None:
        raise ValueError(f"{version!r} is not MAJOR.MINOR.PATCH")
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch)


def releases(released: Path, name: str, major: int) -> list[Path]:
    """The released snapshots of `name` with major version `major`, oldest first."""
    snapshots = [
        (_semver(path.stem), path)
        for path in (released / name).glob("*.json")
        if SEMVER.match(path.stem) and _semver(path.stem)[0] == major
    ]
    return [path for _, path in sorted(snapshots)]


def baseline(released: Path, name: str, version: str) -> Path | None:
    """The newest released snapshot of `name` with the major version of `version`, if any."""
    found = releases(released, name, _semver(version)[0])
    return found[-1] if found else None


def _without(node: Any, keys: frozenset[str]) -> Any:
    if isinstance(node, dict):
        return {k: _without(v, keys) for k, v in node.items() if k not in keys}
    if isinstance(node, list):
        return [_without(item, keys) for item in node]
    return node


def _unversioned(document: Mapping[str, Any]) -> dict[str, Any]:
    return {**document, "info": {k: v for k, v in document["info"].items() if k != "version"}}


def next_version(previous: Mapping[str, Any], current: Mapping[str, Any], version: str) -> str:
    """Minor when anything but prose and examples changed, else patch."""
    major, minor, patch = _semver(version)
    if _without(_unversioned(previous), PROSE) != _without(_unversioned(current), PROSE):
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{patch + 1}"


def release(directory: Path, versions_file: Path = VERSIONS_FILE) -> list[Path]:
    """Release every committed contract that differs from its newest release; the snapshots.

    Each gets `released/<name>/<version>.json` (x.0.0 for a first release), its
    committed document is stamped with that version, and `versions_file` records it.
    A released snapshot is never rewritten.
    """
    versions = released_versions(versions_file)
    created = []
    for contract in CONTRACTS:
        path = directory / f"{contract.name}.json"
        document = json.loads(path.read_text(encoding="utf-8"))
        if not document.get("paths"):
            continue  # nothing to promise yet
        base = releases(directory / "released", contract.name, contract.major)
        if not base:
            version = f"{contract.major}.0.0"
        else:
            previous = json.loads(base[-1].read_text(encoding="utf-8"))
            if _unversioned(previous) == _unversioned(document):
                continue
            version = next_version(previous, document, base[-1].stem)
        document["info"]["version"] = version
        text = render(document)
        path.write_text(text, encoding="utf-8")
        target = directory / "released" / contract.name / f"{version}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        versions[contract.name] = version
        created.append(target)
    versions_file.write_text(json.dumps(versions, indent=2, sort_keys=True) + "\n", "utf-8")
    return created
