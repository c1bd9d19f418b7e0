"""FastAPI's route handler for a route whose parameters are simple, planned once.

For every request FastAPI's handler (`get_request_handler`) parses the content type with
`email.message`, then `solve_dependencies` walks the route's dependant: it makes a
`Response` for response parameters, classifies each dependency's callable, computes its
cache key, and for every parameter looks up its aliases, its kind (sequence, model) and
its location, some four hundred calls a posting. `plan_handler` does that work once per
route whose dependant is simple (path, query, header and cookie parameters of one value,
one JSON body model, `async def` dependencies taking only these and the request, no
background tasks, response or security scopes parameters, a non-streaming endpoint) and
validates each value with FastAPI's own function, in FastAPI's order, so the values and
every 422 are the same. Anything else, a request FastAPI's telemetry observes, or an app
with dependency overrides, is FastAPI's handler's.
"""

from __future__ import annotations

import email.message
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from fastapi import params
from fastapi._body_limit import get_body_limit_error
from fastapi._compat import ModelField, Undefined, field_annotation_is_sequence
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.models import (
    Dependant,
    _get_cache_key,
    _is_async_gen_callable,
    _is_coroutine_callable,
    _is_gen_callable,
)
from fastapi.dependencies.utils import (
    _get_form_models,
    _get_param_aliases,
    _get_param_model,
    _should_embed_body_fields,
    _validate_value_with_model_field,
)
from fastapi.exceptions import EndpointContext, RequestValidationError
from fastapi.routing import APIRoute, _extract_endpoint_context, serialize_response
from fastapi.utils import is_body_allowed_for_status_code
from starlette.exceptions import HTTPException
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY
from starlette.requests import Request
from starlette.responses import Response

from app.governance.raw_headers import header
from app.governance.uploads import take_body

Handler = Callable[[Request], Awaitable[Response]]
SOURCES = {"path": "path_params", "query": "query_params", "header": "headers", "cookie": "cookies"}


@lru_cache(maxsize=64)
def is_json_media_type(content_type: str) -> bool:
    """FastAPI's test of a request's content type for a JSON body, once per header value."""
    message = email.message.Message()
    message["content-type"] = content_type
    if message.get_content_maintype() != "application":
        return False
    subtype = message.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")


@dataclass(frozen=True)
class Param:
    """One request value: where it is read, under which key, and the field validating it."""

    field: ModelField
    source: str
    alias: str
    loc: tuple[str, str]


@dataclass(frozen=True)
class Plan:
    """What `solve_dependencies` does for a dependant, in its order."""

    dependencies: tuple[Step, ...]
    params: tuple[Param, ...]
    request_names: tuple[str, ...]


@dataclass(frozen=True)
class Step:
    """A dependency: its plan, its callable, its cache key and the name the value takes."""

    plan: Plan
    call: Callable[..., Awaitable[Any]]
    cache_key: object
    use_cache: bool
    name: str | None


class NotSimple(Exception):
    """The dependant needs FastAPI's own solving."""


def _param(field: ModelField) -> Param:
    info = field.field_info
    aliases = _get_param_aliases(field)
    if (
        not isinstance(info, params.Param)
        or _get_param_model(field) is not None
        or field_annotation_is_sequence(info.annotation)
        or len(aliases) != 1
    ):
        raise NotSimple
    alias = aliases[0][1]
    return Param(field, SOURCES[info.in_.value], alias, (info.in_.value, alias))


def _plan(dependant: Dependant) -> Plan:
    if (
        dependant.background_tasks_param_name
        or dependant.response_param_name
        or dependant.security_scopes_param_name
        or dependant.websocket_param_name
    ):
        raise NotSimple
    steps = []
    for sub in dependant.dependencies:
        call = sub.call
        if (
            call is None
            or sub.body_params
            or sub.concurrency is not None
            or _is_gen_callable(call)
            or _is_async_gen_callable(call)
            or not _is_coroutine_callable(call)
        ):
            raise NotSimple
        key = _get_cache_key(dependant=sub, uses_scopes_cache={})
        steps.append(Step(_plan(sub), call, key, sub.use_cache, sub.name))
    fields = [
        *dependant.path_params,
        *dependant.query_params,
        *dependant.header_params,
        *dependant.cookie_params,
    ]
    names = (dependant.http_connection_param_name, dependant.request_param_name)
    return Plan(
        tuple(steps), tuple(_param(field) for field in fields), tuple(n for n in names if n)
    )


async def _solve(
    plan: Plan, request: Request, values: dict[str, Any], cache: dict[object, Any]
) -> list[Any]:
    """`solve_dependencies` for `plan`: fills `values`, returns the errors."""
    errors: list[Any] = []
    for step in plan.dependencies:
        # As FastAPI: a cached dependency's own parameters are still solved (and refused).
        sub_values: dict[str, Any] = {}
        sub_errors = await _solve(step.plan, request, sub_values, cache)
        if sub_errors:
            errors.extend(sub_errors)
            continue
        if step.use_cache and step.cache_key in cache:
            solved = cache[step.cache_key]
        else:
            solved = await step.call(**sub_values)
        if step.name is not None:
            values[step.name] = solved
        cache.setdefault(step.cache_key, solved)
    for param in plan.params:
        value = getattr(request, param.source).get(param.alias)
        value, param_errors = _validate_value_with_model_field(
            field=param.field, value=Undefined if value is None else value, values={}, loc=param.loc
        )
        if param_errors:
            errors.extend(param_errors)
        else:
            values[param.field.name] = value
    for name in plan.request_names:
        values[name] = request
    return errors


def _body_field(route: APIRoute, dependant: Dependant) -> ModelField | None:
    """The route's body field if FastAPI validates it whole as the body (one JSON model)."""
    body_params = dependant.body_params
    if not body_params:
        return None
    field = route.body_field
    if (
        field is None
        or len(body_params) != 1
        or isinstance(field.field_info, params.Form)
        or route._embed_body_fields
        or _should_embed_body_fields(body_params)
        or _get_form_models(body_params[0])
    ):
        raise NotSimple
    return body_params[0]


def _endpoint_context(request: Request, dependant: Dependant) -> EndpointContext:
    """The endpoint's context for error messages, as FastAPI's handler gives it."""
    endpoint_ctx = _extract_endpoint_context(dependant.call)
    if dependant.path:
        mount_path = request.scope.get("root_path", "").rstrip("/")
        endpoint_ctx["path"] = f"{request.method} {mount_path}{dependant.path}"
    return endpoint_ctx


def _validation_error(
    errors: list[Any], body: Any, request: Request, dependant: Dependant
) -> RequestValidationError:
    endpoint_ctx = _endpoint_context(request, dependant)
    return RequestValidationError(errors, body=body, endpoint_ctx=endpoint_ctx)


async def _read_body(request: Request, strict: bool, dependant: Dependant) -> Any:
    """The body as FastAPI's handler reads it for a JSON body field, with its errors."""
    try:
        taken = take_body(request.scope)
        if taken is not None:
            request._body = taken
        body_bytes = await request.body()
        if not body_bytes:
            return Undefined
        content_type = header(request.scope, b"content-type")
        if (not content_type and not strict) or (content_type and is_json_media_type(content_type)):
            return await request.json()
        return body_bytes
    except json.JSONDecodeError as e:
        error = {
            "type": "json_invalid",
            "loc": ("body", e.pos),
            "msg": "JSON decode error",
            "input": {},
            "ctx": {"error": e.msg},
        }
        raise _validation_error([error], e.doc, request, dependant) from e
    except HTTPException:
        raise
    except Exception as e:
        if MAX_BODY_SIZE_SCOPE_KEY in request.scope and (limit := get_body_limit_error(e)):
            raise limit from e
        raise HTTPException(status_code=400, detail="There was an error parsing the body") from e


def plan_handler(route: APIRoute, dependant: Dependant, fallback: Handler) -> Handler | None:
    """A handler answering as `fallback` (FastAPI's for `dependant`) with the solving
    planned once; None when the route is not simple."""
    call = dependant.call
    if (
        call is None
        or not _is_coroutine_callable(call)
        or _is_gen_callable(call)
        or _is_async_gen_callable(call)
        or not isinstance(route.response_class, DefaultPlaceholder)
        or route.stream_item_field is not None
        or route.is_json_stream
    ):
        return None
    try:
        plan = _plan(dependant)
        body_field = _body_field(route, dependant)
    except NotSimple:
        return None
    strict = route.strict_content_type
    strict_content_type = strict.value if isinstance(strict, DefaultPlaceholder) else strict
    response_class = route.response_class.value
    response_field = route.response_field
    status_code = route.status_code
    overrides = route.dependency_overrides_provider

    async def app(request: Request) -> Response:
        if "fastapi.telemetry" in request.scope or (
            overrides is not None and overrides.dependency_overrides
        ):
            return await fallback(request)
        values: dict[str, Any] = {}
        body: Any = Undefined
        if body_field is not None:
            body = await _read_body(request, strict_content_type, dependant)
        errors = await _solve(plan, request, values, {})
        if body_field is not None:
            value, body_errors = _validate_value_with_model_field(
                field=body_field, value=body, values=values, loc=("body",)
            )
            values[body_field.name] = value
            errors.extend(body_errors)
        if errors:
            raise _validation_error(errors, None if body is Undefined else body, request, dependant)
        raw = await call(**values)
        if isinstance(raw, Response):
            return raw
        content = await serialize_response(
            field=response_field,
            response_content=raw,
            include=route.response_model_include,
            exclude=route.response_model_exclude,
            by_alias=route.response_model_by_alias,
            exclude_unset=route.response_model_exclude_unset,
            exclude_defaults=route.response_model_exclude_defaults,
            exclude_none=route.response_model_exclude_none,
            endpoint_ctx=_endpoint_context(request, dependant),
            dump_json=response_field is not None,
        )
        args: dict[str, Any] = {"status_code": status_code} if status_code else {}
        if response_field is not None:
            response = Response(content=content, media_type="application/json", **args)
        else:
            response = response_class(content, **args)
        if not is_body_allowed_for_status_code(response.status_code):
            response.body = b""
        return response

    return app
