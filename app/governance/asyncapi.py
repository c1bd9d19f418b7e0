"""The event contract (`openapi/asyncapi.json`), governed like the OpenAPI ones.

`write` generates it from the event catalog; `release` snapshots it into
`openapi/released/asyncapi/<version>.json` under the next minor (anything a consumer
can use changed) or patch (prose and examples only) version, recorded in
`contract_versions.json` as `asyncapi`. `breaking_changes` compares the payload schemas
of two releases: a consumer breaks when a type disappears, a field disappears or
changes type, an optional field becomes required, or an enum loses a value. A new type
or a new optional field breaks no one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from app.governance.contracts import (
    VERSIONS_FILE,
    next_version,
    released_versions,
    releases,
    render,
)
from events.asyncapi import asyncapi_document

NAME = "asyncapi"
MAJOR = 1


def current_version(versions_file: Path = VERSIONS_FILE) -> str:
    """The newest release of the event contract (1.0.0 before the first one)."""
    return released_versions(versions_file).get(NAME, f"{MAJOR}.0.0")


def generated(contact: Mapping[str, Any]) -> dict[str, Any]:
    """The document as `write` commits it, stamped with the newest released version."""
    return asyncapi_document(version=current_version(), contact=dict(contact))


def write(directory: Path, contact: Mapping[str, Any]) -> Path:
    target = directory / f"{NAME}.json"
    target.write_text(render(generated(contact)), encoding="utf-8")
    return target


def _unversioned(document: Mapping[str, Any]) -> dict[str, Any]:
    return {**document, "info": {k: v for k, v in document["info"].items() if k != "version"}}


def release(directory: Path, versions_file: Path = VERSIONS_FILE) -> list[Path]:
    """Release the committed document if it differs from its newest release."""
    path = directory / f"{NAME}.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    base = releases(directory / "released", NAME, MAJOR)
    if not base:
        version = f"{MAJOR}.0.0"
    else:
        previous = json.loads(base[-1].read_text(encoding="utf-8"))
        if _unversioned(previous) == _unversioned(document):
            return []
        version = next_version(previous, document, base[-1].stem)
    document["info"]["version"] = version
    text = render(document)
    path.write_text(text, encoding="utf-8")
    target = directory / "released" / NAME / f"{version}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    versions = released_versions(versions_file)
    versions[NAME] = version
    versions_file.write_text(json.dumps(versions, indent=2, sort_keys=True) + "\n", "utf-8")
    return [target]


# The breaking-change check on payload schemas.


def _types(schema: Mapping[str, Any]) -> Any:
    """What a field holds, for comparing two versions of it: its types and format,
    or its reference or constant; prose and examples aside."""
    if "anyOf" in schema:
        return sorted(json.dumps(_types(option), sort_keys=True) for option in schema["anyOf"])
    kept = ("type", "format", "$ref", "const", "items", "properties")
    return {key: schema[key] for key in kept if key in schema}


def _field_changes(where: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    found = []
    if _types(old) != _types(new):
        found.append(f"{where}: type changed from {_types(old)} to {_types(new)}")
    if "enum" in old and "enum" in new:  # an enum dropped altogether widens the field
        lost = [value for value in old["enum"] if value not in new["enum"]]
        if lost:
            found.append(f"{where}: enum lost {lost}")
    return found


def _schema_changes(name: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    found = []
    old_fields, new_fields = old.get("properties", {}), new.get("properties", {})
    for field, old_field in old_fields.items():
        if field not in new_fields:
            found.append(f"{name}.{field}: removed")
        else:
            found.extend(_field_changes(f"{name}.{field}", old_field, new_fields[field]))
    old_required = set(old.get("required", []))
    for field in sorted(set(new.get("required", [])) - old_required):
        if field in old_fields:
            found.append(f"{name}.{field}: made required")
    return found


def breaking_changes(previous: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """What `current` breaks of `previous`, one line each (none: compatible)."""
    old_schemas = previous["components"]["schemas"]
    new_schemas = current["components"]["schemas"]
    found = []
    for name, old in old_schemas.items():
        if name not in new_schemas:
            found.append(f"{name}: removed")
        else:
            found.extend(_schema_changes(name, old, new_schemas[name]))
    return found
