"""The one error hierarchy. The edge renders every `LedgergateError` as RFC 9457 problem+json.

Each subclass has a stable `type` URI (`PROBLEM_BASE_URI` + slug) that clients may
switch on; titles are short and constant, details say what happened this time.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar

PROBLEM_BASE_URI = "https://ledgergate.dev/problems/"


class ErrorClass(StrEnum):
    """How a failure should be handled: retried, fixed by a person, or escalated."""

    TRANSIENT = "transient"
    BUSINESS = "business"
    AUTH = "auth"
    CONTRACT = "contract"


def problem_type(slug: str) -> str:
    return PROBLEM_BASE_URI + slug


class LedgergateError(Exception):
    status_code: ClassVar[int] = 500
    slug: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal error"
    # The caller can correct the request and send it again: a run it fails while its caller
    # waits is answered and closed `rejected`, not put in the exception queue.
    caller_correctable: ClassVar[bool] = False

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions
        self.headers: dict[str, str] = {}

    @classmethod
    def type_uri(cls) -> str:
        return problem_type(cls.slug)


class NotFound(LedgergateError):
    status_code = 404
    slug = "not-found"
    title = "Resource not found"


class Conflict(LedgergateError):
    status_code = 409
    slug = "conflict"
    title = "Conflict with the current state"


class InvalidTransition(Conflict):
    slug = "invalid-status-transition"
    title = "Status transition not allowed"


class VersionConflict(Conflict):
    slug = "version-conflict"
    title = "The resource was modified concurrently"


class PreconditionFailed(LedgergateError):
    status_code = 412
    slug = "precondition-failed"
    title = "The resource's version is not the one If-Match names"


class PreconditionRequired(LedgergateError):
    status_code = 428
    slug = "precondition-required"
    title = "The change needs an If-Match with the version last read"


class BusinessRuleViolation(LedgergateError):
    """A request that is well formed but breaks a business rule (422)."""

    status_code = 422
    slug = "business-rule-violation"
    title = "Business rule violated"


class BadRequest(LedgergateError):
    status_code = 400
    slug = "bad-request"
    title = "Bad request"
