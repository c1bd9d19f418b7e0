"""The served OpenAPI document, made truthful about errors.

FastAPI documents validation failures as its own `HTTPValidationError`; the gateway
answers them (and every other error) with RFC 9457 problem+json. This rewrites each
operation's error responses to the `Problem` schema and adds the ones the edge may
give to any operation: 422 for bad parameters, and 400/413/415 where a body is taken.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema

from app.core.problems import PROBLEM_MEDIA_TYPE, Problem, problem_responses

HTTP_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options"})
FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def _problem_schemas() -> dict[str, Any]:
    _, definitions = models_json_schema(
        [(Problem, "serialization")], ref_template="#/components/schemas/{model}"
    )
    schemas: dict[str, Any] = definitions["$defs"]
    return schemas


def _edge_statuses(operation: dict[str, Any]) -> tuple[int, ...]:
    statuses = [422]
    if "requestBody" in operation:
        statuses += [400, 413, 415]
    return tuple(statuses)


def build_openapi(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    for path_item in schema.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in HTTP_METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for status, response in problem_responses(*_edge_statuses(operation)).items():
                existing = responses.get(str(status), {})
                if PROBLEM_MEDIA_TYPE not in existing.get("content", {}):
                    responses[str(status)] = response
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in FASTAPI_VALIDATION_SCHEMAS:
        components.pop(name, None)
    components.update(_problem_schemas())
    return schema


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
