"""RFC 9457 problem documents: built here, rendered by the edge and stored by idempotency."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.errors import LedgergateError, problem_type

PROBLEM_MEDIA_TYPE = "application/problem+json"


def problem_document(
    *,
    type_uri: str,
    title: str,
    status: int,
    detail: str,
    instance: str,
    correlation_id: str | None,
    **extensions: Any,
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "type": type_uri,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        "correlation_id": correlation_id,
    }
    document.update({k: v for k, v in extensions.items() if k not in document})
    return document


RESERVED_MEMBERS = frozenset(
    {"type", "title", "status", "detail", "instance", "correlation_id", "type_uri"}
)


def error_document(
    error: LedgergateError, *, instance: str, correlation_id: str | None
) -> dict[str, Any]:
    return problem_document(
        type_uri=error.type_uri(),
        title=error.title,
        status=error.status_code,
        detail=error.detail,
        instance=instance,
        correlation_id=correlation_id,
        # RFC 9457's own members cannot be overridden by an extension of the same name.
        **{k: v for k, v in error.extensions.items() if k not in RESERVED_MEMBERS},
    )


def internal_error_document(instance: str, correlation_id: str | None) -> dict[str, Any]:
    """The 500 problem: says nothing of the failure beyond the id to quote."""
    return problem_document(
        type_uri=problem_type("internal-error"),
        title="Internal error",
        status=500,
        detail="The gateway failed to handle this request; quote the correlation id to support.",
        instance=instance,
        correlation_id=correlation_id,
    )


class FieldError(BaseModel):
    detail: str
    code: str
    pointer: str | None = Field(default=None, description="JSON pointer into the body.")
    parameter: str | None = Field(default=None, description="Name of the bad parameter.")
    in_: str | None = Field(default=None, alias="in", description="query, path or header.")


class Problem(BaseModel):
    """RFC 9457 problem details, as every error response of the gateway carries them."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=["https://ledgergate.dev/problems/not-found"])
    title: str
    status: int
    detail: str
    instance: str
    correlation_id: str | None
    errors: list[FieldError] | None = Field(
        default=None, description="For validation problems: one entry per bad field."
    )


_DESCRIPTIONS = {
    400: "Malformed request (bad JSON, missing header).",
    401: "No valid bearer token.",
    403: "The token lacks a required scope.",
    404: "No such resource.",
    409: "Conflicts with the current state or a concurrent request.",
    412: "The `If-Match` version is no longer the resource's: read it again.",
    413: "Body too large.",
    415: "Body is not JSON.",
    422: "Validation failed or a business rule was breached.",
    428: "The change needs an `If-Match` with the version last read.",
    502: "A backend answered outside its contract or refused our credentials.",
    503: (
        "Unavailable: a backend or the database is down, or the gateway is shedding load "
        "(`overloaded`); retry after `Retry-After`."
    ),
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entry of a route for the problems it may answer with."""
    return {
        status: {
            "description": _DESCRIPTIONS.get(status, "Problem."),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
