"""Breaking changes to a request contract that the diff tool (Optic) does not see.

Optic misses an optional, nullable request field made required (`anyOf: [..., null]`)
and any tightened bound. These checks compare a released document with its successor:
a request property or parameter that becomes required, and a request-side bound that is
added or tightened (`maxItems`/`maxLength`/`maximum`/`exclusiveMaximum` lowered,
their `min` counterparts raised). Each finding is a sentence naming where it is.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from app.governance.openapi import operations, schema_refs

# Bound -> True when a lower value is tighter (a maximum), False when a higher one is.
BOUNDS = {
    "maxItems": True,
    "maxLength": True,
    "maxProperties": True,
    "maximum": True,
    "exclusiveMaximum": True,
    "minItems": False,
    "minLength": False,
    "minProperties": False,
    "minimum": False,
    "exclusiveMinimum": False,
}


def _request_schemas(document: Mapping[str, Any]) -> set[str]:
    """The component schemas a request body or parameter uses, directly or nested."""
    schemas = document.get("components", {}).get("schemas", {})
    pending = [
        name
        for _, _, operation in operations(document)
        for part in (operation.get("requestBody", {}), operation.get("parameters", []))
        for name in schema_refs(part)
    ]
    found: set[str] = set()
    while pending:
        name = pending.pop()
        if name not in found and name in schemas:
            found.add(name)
            pending.extend(schema_refs(schemas[name]))
    return found


def _tighter(bound: str, old: Any, new: Any) -> bool:
    if new is None or isinstance(new, bool) or isinstance(old, bool):
        return False
    if old is None:
        return True
    return bool(new < old) if BOUNDS[bound] else bool(new > old)


def _schema_changes(old: Any, new: Any, where: str) -> Iterator[str]:
    """Tightened bounds and newly required properties, walking two schemas side by side."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return
    for bound in BOUNDS:
        if _tighter(bound, old.get(bound), new.get(bound)):
            yield f"{where}: {bound} tightened from {old.get(bound)} to {new.get(bound)}"
    old_properties, new_properties = old.get("properties", {}), new.get("properties", {})
    newly_required = set(new.get("required", [])) - set(old.get("required", []))
    for name in sorted(newly_required & old_properties.keys()):
        yield f"{where}: optional property {name} made required"
    for name in sorted(old_properties.keys() & new_properties.keys()):
        yield from _schema_changes(old_properties[name], new_properties[name], f"{where}.{name}")
    for key in ("items", "additionalProperties"):
        yield from _schema_changes(old.get(key), new.get(key), f"{where}.{key}")
    for key in ("anyOf", "oneOf", "allOf"):
        for index, (a, b) in enumerate(zip(old.get(key, []), new.get(key, []), strict=False)):
            yield from _schema_changes(a, b, f"{where}.{key}[{index}]")


def _parameters(operation: Mapping[str, Any]) -> dict[tuple[str, str], Mapping[str, Any]]:
    return {(p["in"], p["name"]): p for p in operation.get("parameters", []) if "name" in p}


def request_breaking_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Breaking request-side changes from `old` to `new` that Optic does not report."""
    findings: list[str] = []
    old_schemas = old.get("components", {}).get("schemas", {})
    new_schemas = new.get("components", {}).get("schemas", {})
    for name in sorted(_request_schemas(new) & old_schemas.keys()):
        findings.extend(_schema_changes(old_schemas[name], new_schemas[name], name))
    old_operations = {(path, method): op for path, method, op in operations(old)}
    for path, method, operation in operations(new):
        before = old_operations.get((path, method))
        if before is None:
            continue
        where = f"{method.upper()} {path}"
        old_parameters = _parameters(before)
        for key, parameter in _parameters(operation).items():
            previous = old_parameters.get(key)
            if previous is None:
                continue
            if parameter.get("required") and not previous.get("required"):
                findings.append(f"{where}: optional parameter {key[1]} made required")
            findings.extend(
                _schema_changes(
                    previous.get("schema"), parameter.get("schema"), f"{where} {key[1]}"
                )
            )
        old_body = before.get("requestBody", {}).get("content", {})
        for media, content in operation.get("requestBody", {}).get("content", {}).items():
            if media in old_body and "$ref" not in content.get("schema", {}):
                findings.extend(
                    _schema_changes(
                        old_body[media].get("schema"), content.get("schema"), f"{where} body"
                    )
                )
    return findings
