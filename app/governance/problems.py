"""Exception handlers: every error the app raises leaves as RFC 9457 problem+json."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.governance.admission import SHED, Overloaded
from app.governance.route_table import path_items
from core.db import DatabaseUnreachable, database_unavailable
from core.errors import LedgergateError, NotFound, VersionConflict, problem_type
from core.problems import PROBLEM_MEDIA_TYPE, error_document, problem_document
from process_apis.idempotency import KEY_HEADER, IdempotencyKeyRequired, takes_required_key
from system_apis.errors import BackendNotFound

logger = logging.getLogger(__name__)

# Framework statuses get stable slugs like our own errors.
HTTP_STATUS_SLUGS = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Not allowed"),
    404: ("not-found", "Resource not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    409: ("conflict", "Conflict with the current state"),
    413: ("payload-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    429: ("rate-limited", "Too many requests"),
}


PROBED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
DATABASE_RETRY_AFTER_SECONDS = 2


class DatabaseUnavailable(LedgergateError):
    """The database is down, restarting or refusing connections: retry, nothing was done
    that a retry with the same `Idempotency-Key` would not finish."""

    status_code = 503
    slug = "database-unavailable"
    title = "The database is temporarily unavailable"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.headers["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE


def _correlation_id(request: Request) -> str | None:
    return getattr(request.state, "correlation_id", None)


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    """One entry per bad field: a JSON pointer into the body, or the parameter's name."""
    errors = []
    for error in exc.errors():
        location, *path = error["loc"]
        entry: dict[str, Any] = {"detail": error["msg"], "code": error["type"]}
        if location == "body":
            entry["pointer"] = "#/" + "/".join(str(part) for part in path)
        else:
            entry["in"] = location
            entry["parameter"] = ".".join(str(part) for part in path)
        errors.append(entry)
    return errors


async def handle_ledgergate_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, LedgergateError)
    document = error_document(
        exc, instance=request.url.path, correlation_id=_correlation_id(request)
    )
    return ProblemResponse(document, status_code=exc.status_code, headers=exc.headers or None)


def _missing_idempotency_key(request: Request, errors: Sequence[Any]) -> bool:
    """Whether the only fault is a write route of ours sent without its Idempotency-Key."""
    route = request.scope.get("route")
    return (
        bool(errors)
        and isinstance(route, APIRoute)
        and takes_required_key(route.dependant)
        and all(
            e["type"] == "missing" and tuple(e["loc"]) == ("header", KEY_HEADER) for e in errors
        )
    )


async def handle_validation_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RequestValidationError)
    if _missing_idempotency_key(request, exc.errors()):
        return await handle_ledgergate_error(
            request, IdempotencyKeyRequired("send an Idempotency-Key header with this request")
        )
    if any(error["type"] == "json_invalid" for error in exc.errors()):
        status, slug, title = 400, "malformed-json", "Malformed JSON body"
        detail = "the request body is not valid JSON"
    else:
        status, slug, title = 422, "validation-error", "Request validation failed"
        detail = "one or more fields are invalid; see `errors`"
    document = problem_document(
        type_uri=problem_type(slug),
        title=title,
        status=status,
        detail=detail,
        instance=request.url.path,
        correlation_id=_correlation_id(request),
        errors=_field_errors(exc),
    )
    return ProblemResponse(document, status_code=status)


def allowed_methods(request: Request) -> str:
    """The methods the path's operation serves, as the OpenAPI document lists them.

    Starlette's 405 names the methods of one route only. Where several templates match,
    the one with the fewest parameters wins: a literal segment beats a parameter.
    """
    path = request.url.path
    matching = [
        (item.template.count("{"), item)
        for item in path_items(request.app)
        if item.pattern.fullmatch(path)
    ]
    if not matching:
        return ""
    fewest = min(params for params, _ in matching)
    methods = {m for params, item in matching if params == fewest for m in item.methods}
    return ", ".join(sorted(methods & set(PROBED_METHODS)))


async def handle_http_exception(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, StarletteHTTPException)
    slug, title = HTTP_STATUS_SLUGS.get(exc.status_code, ("http-error", "HTTP error"))
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = allowed_methods(request)
    document = problem_document(
        type_uri=problem_type(slug),
        title=title,
        status=exc.status_code,
        detail=str(exc.detail),
        instance=request.url.path,
        correlation_id=_correlation_id(request),
    )
    return ProblemResponse(document, status_code=exc.status_code, headers=headers or None)


async def handle_stale_data(request: Request, _exc: Exception) -> ProblemResponse:
    conflict = VersionConflict("the resource changed while this request was applied; retry it")
    return await handle_ledgergate_error(request, conflict)


async def handle_database_error(request: Request, exc: Exception) -> ProblemResponse:
    """A database that cannot serve now is a 503; any other driver error stays a 500."""
    if isinstance(exc, PoolTimeout):
        SHED.labels("database_pool").inc()
        logger.warning("db.pool_timeout", extra={"path": request.url.path})
        overloaded = Overloaded("no database connection came free in time; retry shortly")
        return await handle_ledgergate_error(request, overloaded)
    if not database_unavailable(exc):
        raise exc
    logger.warning("db.unavailable", extra={"path": request.url.path, "error": repr(exc)})
    unavailable = DatabaseUnavailable("the database cannot be reached now; retry shortly")
    return await handle_ledgergate_error(request, unavailable)


async def handle_backend_not_found(request: Request, exc: Exception) -> ProblemResponse:
    """On a system API an object the backend does not know is a plain 404; elsewhere (a
    workflow referring to it) the backend's refusal stays a 422 business problem."""
    assert isinstance(exc, BackendNotFound)
    if request.url.path.startswith("/system/"):
        exc = NotFound(exc.detail, backend=exc.backend, operation=exc.operation)
    return await handle_ledgergate_error(request, exc)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(LedgergateError, handle_ledgergate_error)
    app.add_exception_handler(BackendNotFound, handle_backend_not_found)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, handle_http_exception)
    app.add_exception_handler(StaleDataError, handle_stale_data)
    for database_error in (DBAPIError, DatabaseUnreachable, PoolTimeout):
        app.add_exception_handler(database_error, handle_database_error)
