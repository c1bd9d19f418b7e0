"""Check recorded HTTP exchanges against a vendor's OpenAPI 3.0 document.

Generic over vendors: load the document, give the server base path the requests
were sent under, and ask for the problems of a request (path template and method,
path/query/header parameters, JSON body) or of a response (declared status, JSON
body). Problems come back as readable strings; an empty list means conforming.

OpenAPI 3.0 schemas are turned into JSON Schema draft 4, which they are a dialect
of: `nullable: true` becomes a `null` alternative, response codes become strings,
and local `$ref`s become absolute so any subschema resolves against the document.
Formats `uuid`, `date` and `date-time` are checked; others (`decimal`, `int32`)
are not. Path templates may use OData key syntax such as `/companies({company_id})`
or `/lines('{line_id}')`; when several templates match, the one with the most
literal characters wins (so `/customers/search` beats `/customers/{id}`). Request
bodies are schema-checked when they are JSON; other media types are only checked
to be declared.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
from jsonschema import Draft4Validator, FormatChecker
from referencing import Registry
from referencing.jsonschema import DRAFT4

from tests.support.recording import Exchange

DOCUMENT_URI = "urn:openapi-document"
IGNORED_HEADERS = frozenset({"accept", "content-type", "authorization"})
"""OpenAPI 3.0 says header parameters with these names are ignored."""

_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str) or not _DATE_TIME.match(value):
        return not isinstance(value, str)
    try:
        date.fromisoformat(value[:10])
    except ValueError:
        return False
    return True


def _is_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


def _is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) == 36


FORMATS = FormatChecker(formats=())
FORMATS.checks("date-time")(_is_date_time)
FORMATS.checks("date")(_is_date)
FORMATS.checks("uuid")(_is_uuid)


def to_json_schema(node: Any) -> Any:
    """An OpenAPI 3.0 (sub)document with its schemas rewritten as JSON Schema draft 4."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {str(key): to_json_schema(value) for key, value in node.items()}
    if isinstance(out.get("$ref"), str) and out["$ref"].startswith("#"):
        out["$ref"] = DOCUMENT_URI + out["$ref"]
    if out.get("nullable") is not True:
        out.pop("nullable", None)
        return out
    del out["nullable"]
    if "$ref" in out:
        return {"anyOf": [{"$ref": out["$ref"]}, {"type": "null"}]}
    if isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        return out
    return {"anyOf": [out, {"type": "null"}]}


def _pointer(*segments: str) -> str:
    return "".join("/" + s.replace("~", "~0").replace("/", "~1") for s in segments)


@dataclass(frozen=True)
class Operation:
    """One operation of the document, with path-level parameters merged in."""

    method: str
    template: str
    pointer: str
    spec: Mapping[str, Any]
    parameters: tuple[Mapping[str, Any], ...]
    path_values: Mapping[str, str]


@dataclass(frozen=True)
class _Template:
    template: str
    regex: re.Pattern[str]
    names: tuple[str, ...]
    literal_length: int


def _compile(template: str) -> _Template:
    pattern, names, literal, position = "", [], 0, 0
    for match in re.finditer(r"\{([^}]+)\}", template):
        text = template[position : match.start()]
        pattern += re.escape(text) + "([^/]+?)"
        literal += len(text)
        names.append(match.group(1))
        position = match.end()
    pattern += re.escape(template[position:])
    literal += len(template) - position
    return _Template(template, re.compile(f"^{pattern}$"), tuple(names), literal)


class OpenApiDocument:
    """An OpenAPI 3.0 document that can judge requests and responses sent under `base_path`."""

    def __init__(self, document: Mapping[str, Any], *, base_path: str = "") -> None:
        self.document: dict[str, Any] = to_json_schema(dict(document))
        self.base_path = base_path.rstrip("/")
        self._templates = [_compile(path) for path in self.document.get("paths", {})]
        resource = DRAFT4.create_resource(self.document)
        self._registry: Registry[Any] = Registry().with_resource(DOCUMENT_URI, resource)

    def resolve(self, node: Mapping[str, Any]) -> Mapping[str, Any]:
        """`node`, or what its `$ref` into the document points at."""
        while "$ref" in node:
            target: Any = self.document
            for segment in node["$ref"].removeprefix(f"{DOCUMENT_URI}#/").split("/"):
                target = target[segment.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    def operation(self, method: str, path: str) -> Operation | None:
        """The operation `method path` (path without the base path) calls, if any."""
        method = method.lower()
        matches = []
        for template in self._templates:
            match = template.regex.match(path)
            if match and method in self.document["paths"][template.template]:
                matches.append((template, match))
        if not matches:
            return None
        template, match = max(matches, key=lambda m: m[0].literal_length)
        item = self.document["paths"][template.template]
        spec = item[method]
        merged: dict[tuple[str, str], Mapping[str, Any]] = {}
        for parameter in [*item.get("parameters", ()), *spec.get("parameters", ())]:
            resolved = self.resolve(parameter)
            merged[(resolved["name"], resolved["in"])] = resolved
        return Operation(
            method=method,
            template=template.template,
            pointer=_pointer("paths", template.template, method),
            spec=spec,
            parameters=tuple(merged.values()),
            path_values=dict(zip(template.names, match.groups(), strict=True)),
        )

    def check_exchange(self, exchange: Exchange) -> list[str]:
        """Problems of a recorded request and of the response it got."""
        return self.check_request(exchange.request, exchange.request_body) + self.check_response(
            exchange.request,
            exchange.response.status_code,
            exchange.response.headers.get("content-type"),
            exchange.response_body,
        )

    def check_request(self, request: httpx.Request, body: bytes) -> list[str]:
        where = f"{request.method} {request.url.path}"
        path = self._relative(request.url.path)
        operation = None if path is None else self.operation(request.method, path)
        if operation is None:
            return [f"{where}: the document has no such operation"]
        problems = self._check_parameters(operation, request)
        problems += self._check_request_body(operation, request, body)
        return [f"{where}: {problem}" for problem in problems]

    def check_response(
        self, request: httpx.Request, status: int, content_type: str | None, body: bytes
    ) -> list[str]:
        where = f"{request.method} {request.url.path} -> {status}"
        path = self._relative(request.url.path)
        operation = None if path is None else self.operation(request.method, path)
        if operation is None:
            return [f"{where}: the document has no such operation"]
        responses = operation.spec.get("responses", {})
        code = next(
            (c for c in (str(status), f"{status // 100}XX", "default") if c in responses), None
        )
        if code is None:
            return [f"{where}: status {status} is not declared"]
        content = self.resolve(responses[code]).get("content")
        if not content:
            return [] if not body else [f"{where}: a body where the document declares none"]
        media = (content_type or "").split(";")[0].strip()
        if media not in content:
            return [f"{where}: media type {media!r} is not declared"]
        if "json" not in media or "schema" not in content[media]:
            return []
        pointer = operation.pointer + _pointer("responses", code, "content", media, "schema")
        return [f"{where}: {p}" for p in self._check_json(pointer, body)]

    def _relative(self, path: str) -> str | None:
        if not path.startswith(self.base_path):
            return None
        return path[len(self.base_path) :] or "/"

    def _check_parameters(self, operation: Operation, request: httpx.Request) -> list[str]:
        problems: list[str] = []
        by_place: dict[str, dict[str, Mapping[str, Any]]] = {}
        for parameter in operation.parameters:
            by_place.setdefault(parameter["in"], {})[parameter["name"]] = parameter
        for name, value in operation.path_values.items():
            in_path = by_place.get("path", {}).get(name)
            if in_path is not None:
                problems += self._check_value(f"path parameter {name}", in_path, [value])
        declared = by_place.get("query", {})
        for name in dict.fromkeys(request.url.params.keys()):
            in_query = declared.get(name) or declared.get(name.split("[", 1)[0])
            if in_query is None:
                problems.append(f"query parameter {name!r} is not declared")
            elif in_query.get("style") != "deepObject":
                problems += self._check_value(
                    f"query parameter {name}", in_query, request.url.params.get_list(name)
                )
        for name, parameter in declared.items():
            present = any(k == name or k.startswith(f"{name}[") for k in request.url.params)
            if parameter.get("required") and not present:
                problems.append(f"required query parameter {name!r} is missing")
        for name, parameter in by_place.get("header", {}).items():
            if name.lower() in IGNORED_HEADERS:
                continue
            if name not in request.headers:
                if parameter.get("required"):
                    problems.append(f"required header {name!r} is missing")
                continue
            problems += self._check_value(f"header {name}", parameter, [request.headers[name]])
        return problems

    def _check_value(self, label: str, parameter: Mapping[str, Any], raw: list[str]) -> list[str]:
        schema = self.resolve(parameter.get("schema", {}))
        if schema.get("type") == "array" or "array" in schema.get("type", ()):
            explode = parameter.get("explode", parameter.get("style", "form") == "form")
            parts = raw if explode else [p for value in raw for p in value.split(",")]
            items = self.resolve(schema.get("items", {}))
            value: Any = [_coerce(part, items) for part in parts]
        elif len(raw) > 1:
            return [f"{label} is given {len(raw)} times"]
        else:
            value = _coerce(raw[0], schema)
        return [f"{label}: {p}" for p in self._errors(dict(schema), value)]

    def _check_request_body(
        self, operation: Operation, request: httpx.Request, body: bytes
    ) -> list[str]:
        declared = operation.spec.get("requestBody")
        if declared is None:
            return ["a body the operation does not take"] if body else []
        request_body = self.resolve(declared)
        if not body:
            return ["the required body is missing"] if request_body.get("required") else []
        media = request.headers.get("content-type", "").split(";")[0].strip()
        content = request_body.get("content", {})
        if media not in content:
            return [f"media type {media!r} is not declared"]
        if "json" not in media or "schema" not in content[media]:
            return []
        if "$ref" in declared:
            pointer = declared["$ref"].removeprefix(f"{DOCUMENT_URI}#")
        else:
            pointer = operation.pointer + "/requestBody"
        return self._check_json(pointer + _pointer("content", media, "schema"), body)

    def _check_json(self, pointer: str, body: bytes) -> list[str]:
        try:
            value = json.loads(body)
        except ValueError:
            return ["the body is not JSON"]
        return self._errors({"$ref": f"{DOCUMENT_URI}#{pointer}"}, value)

    def _errors(self, schema: Mapping[str, Any], value: Any) -> list[str]:
        validator = Draft4Validator(schema, registry=self._registry, format_checker=FORMATS)
        return [_describe(error) for error in _sorted(validator.iter_errors(value))]


def _sorted(errors: Iterator[Any]) -> list[Any]:
    return sorted(errors, key=lambda error: list(map(str, error.absolute_path)))


def _describe(error: Any) -> str:
    where = "/".join(map(str, error.absolute_path)) or "(root)"
    return f"{where}: {error.message}"


def _coerce(raw: str, schema: Mapping[str, Any]) -> Any:
    """A query or header string as the JSON value its schema expects, when it parses as one."""
    types = schema.get("type", ())
    types = [types] if isinstance(types, str) else list(types)
    try:
        if "integer" in types:
            return int(raw)
        if "number" in types:
            return float(raw)
    except ValueError:
        return raw
    if "boolean" in types and raw in ("true", "false"):
        return raw == "true"
    return raw
