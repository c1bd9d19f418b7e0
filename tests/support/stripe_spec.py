"""Checks Stripe requests and responses against Stripe's published OpenAPI document.

Stripe-specific on purpose (a generic OpenAPI checker lives elsewhere): request
bodies and query strings are bracket-notation forms, so they are decoded the way
Stripe's server does (`sandboxes.stripe.decode_form`) and then coerced by
the operation's schema — strings to integers and booleans, numbered keys to arrays —
before JSON Schema validation. The OpenAPI 3.0 document is made plain JSON Schema
(draft 4) once: `nullable` becomes a `null` type and local `$ref`s become absolute,
so any sub-schema validates on its own against the one registry.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import httpx
from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from sandboxes.stripe import StripeApiError, decode_form
from tests.support.recording import Exchange
from tests.support.vendor_specs import vendor_spec_text

SPEC = "stripe-2020-08-27/spec3.json"
FIXTURES = "stripe-2020-08-27/fixtures3.json"
SPEC_URI = "urn:stripe:spec3"
FORM = "application/x-www-form-urlencoded"
MAX_MESSAGE = 300

Schema = dict[str, Any]


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    definition: dict[str, Any]


def _to_json_schema(node: Any) -> Any:
    """Rewrite OpenAPI 3.0 schema dialect in place: `nullable` and local `$ref`s."""
    if isinstance(node, list):
        for item in node:
            _to_json_schema(item)
    elif isinstance(node, dict):
        for value in node.values():
            _to_json_schema(value)
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            node["$ref"] = SPEC_URI + ref
        if node.get("nullable") is True:
            del node["nullable"]
            if "type" in node:
                node["type"] = [node["type"], "null"]
                if "enum" in node:
                    node["enum"] = [*node["enum"], None]
            elif "anyOf" in node:
                node["anyOf"] = [*node["anyOf"], {"type": "null"}]
            elif "$ref" in node:
                node["anyOf"] = [{"$ref": node.pop("$ref")}, {"type": "null"}]
    return node


def _template_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    regex = "".join("[^/]+" if part.startswith("{") else re.escape(part) for part in parts)
    return re.compile(f"^{regex}$")


class StripeSpec:
    """Stripe's OpenAPI document, ready to check what crossed the wire."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = _to_json_schema(document)
        resource = Resource.from_contents(self.document, default_specification=DRAFT4)
        self.registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)
        # Literal segments win over templates (`/v1/invoices/upcoming` over `{invoice}`).
        self._routes = sorted(
            ((_template_pattern(t), t) for t in self.document["paths"]),
            key=lambda route: route[1].count("{"),
        )

    def operation(self, method: str, path: str) -> Operation | None:
        for pattern, template in self._routes:
            if pattern.match(path):
                definition = self.document["paths"][template].get(method.lower())
                if definition is not None:
                    return Operation(method.upper(), template, definition)
        return None

    def resolve(self, schema: Schema) -> Schema:
        while "$ref" in schema:
            pointer = schema["$ref"].removeprefix(SPEC_URI + "#/")
            target: Any = self.document
            for part in pointer.split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            schema = target
        return schema

    def errors(self, instance: Any, schema: Schema, where: str) -> list[str]:
        validator = Draft4Validator(schema, registry=self.registry)
        return [
            f"{where} {error.json_path}: {error.message[:MAX_MESSAGE]}"
            for error in validator.iter_errors(instance)
        ]

    def coerce(self, value: Any, schema: Schema) -> Any:
        """Give form strings the types the schema asks for, as Stripe's server does."""
        schema = self.resolve(schema)
        if "anyOf" in schema:
            for branch in schema["anyOf"]:
                candidate = self.coerce(value, branch)
                if not self.errors(candidate, branch, ""):
                    return candidate
            return value
        types = schema.get("type", [])
        types = types if isinstance(types, list) else [types]
        if isinstance(value, str):
            if "integer" in types and re.fullmatch(r"-?\d+", value):
                return int(value)
            if "boolean" in types and value in ("true", "false"):
                return value == "true"
            return value
        if isinstance(value, dict) and "array" in types and all(k.isdigit() for k in value):
            value = [value[key] for key in sorted(value, key=int)]
        if isinstance(value, list):
            items = schema.get("items")
            return [self.coerce(item, items) for item in value] if items else value
        if isinstance(value, dict):
            properties = schema.get("properties", {})
            extra = schema.get("additionalProperties")
            return {
                key: self.coerce(
                    item, properties.get(key, extra if isinstance(extra, dict) else {})
                )
                for key, item in value.items()
            }
        return value

    def request_errors(self, request: httpx.Request, body: bytes) -> list[str]:
        """What is wrong with a request: operation, auth, query parameters and form body."""
        where = f"{request.method} {request.url.path}"
        operation = self.operation(request.method, request.url.path)
        if operation is None:
            return [f"{where}: no such operation in the spec"]
        problems: list[str] = []
        if not request.headers.get("Authorization", "").startswith("Bearer sk_"):
            problems.append(f"{where}: no bearer secret key")
        try:
            query = decode_form(request.url.query.decode())
            form = decode_form(body.decode())
        except StripeApiError as exc:
            return [f"{where}: undecodable parameters ({exc.message})"]
        declared = {
            p["name"]: p["schema"]
            for p in operation.definition.get("parameters", [])
            if p["in"] == "query"
        }
        for name, value in query.items():
            if name not in declared:
                problems.append(f"{where}: query parameter {name!r} is not declared")
            else:
                schema = declared[name]
                problems += self.errors(self.coerce(value, schema), schema, f"{where} ?{name}")
        content = operation.definition.get("requestBody", {}).get("content", {})
        if body and not request.headers.get("Content-Type", "").startswith(FORM):
            problems.append(f"{where}: body is not {FORM}")
        if FORM in content:
            schema = content[FORM]["schema"]
            problems += self.errors(self.coerce(form, schema), schema, f"{where} body")
        elif body:
            problems.append(f"{where}: the operation takes no body")
        return problems

    def response_errors(self, method: str, path: str, status: int, body: bytes) -> list[str]:
        """What is wrong with a response body for its operation and status."""
        where = f"{method} {path} -> {status}"
        operation = self.operation(method, path)
        if operation is None:
            return [f"{where}: no such operation in the spec"]
        responses = operation.definition["responses"]
        documented = responses.get(str(status)) or responses.get("default")
        if documented is None:
            return [f"{where}: status not documented"]
        try:
            instance = json.loads(body)
        except json.JSONDecodeError:
            return [f"{where}: body is not JSON"]
        return self.errors(instance, documented["content"]["application/json"]["schema"], where)

    def exchange_errors(self, exchange: Exchange) -> list[str]:
        request = exchange.request
        return self.request_errors(request, exchange.request_body) + self.response_errors(
            request.method, request.url.path, exchange.response.status_code, exchange.response_body
        )


@cache
def load_stripe_spec() -> StripeSpec:
    """Stripe's spec3.json for API version 2020-08-27, loaded once per test session."""
    return StripeSpec(json.loads(vendor_spec_text(SPEC)))
