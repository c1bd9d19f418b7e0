"""`POST .../api/v1.0/$batch`: OData's JSON batch, as Business Central serves it.

The body is `{"requests": [{"id", "method", "url", "headers"?, "body"?, "dependsOn"?}]}`,
at most `MAX_OPERATIONS` of them; the answer is `200` with `{"responses": [{"id",
"status", "headers", "body"}]}`, one per operation in order. Each operation is handled
as the request it describes would be, so it keeps every rule (and every refusal) of
its resource; one that fails does not stop the others, except those that name it in
`dependsOn`, which answer `424 Failed Dependency`. An operation's `url` is relative to
the API root, or `$<id>` followed by more path: the entity an earlier operation created
(`$1/Microsoft.NAV.post` posts the invoice operation `1` created).

The vendor's limits count the batch as one request or as its operations
(`sandboxes.limits`), and the sandbox's fault
injection may fail single operations (`FaultInjector.operation_error`) besides the
whole request.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message

from sandboxes.business_central.odata import BcFault, ODataResponse, bc_error, routing_error
from sandboxes.limits import BATCH_SUFFIX

MAX_OPERATIONS = 100


async def batch(request: Request) -> Response:
    operations = _operations(await request.body())
    root = request.url.path.removesuffix(BATCH_SUFFIX)
    entities: dict[str, str] = {}  # operation id -> the path of the entity it created
    failed: set[str] = set()
    responses = []
    for operation in operations:
        op_id = str(operation["id"])
        blocked = [dep for dep in operation.get("dependsOn", ()) if dep in failed]
        if blocked:
            status, headers, body = _failed_dependency(blocked)
        else:
            path, query = _resolve(str(operation["url"]), root, entities)
            status, headers, body = await _handle(request, operation, path, query)
            if operation["method"].upper() == "POST" and status == 201 and "id" in (body or {}):
                entities[op_id] = f"{path}({body['id']})"
        if status >= 400:
            failed.add(op_id)
        responses.append({"id": op_id, "status": status, "headers": headers, "body": body})
    return ODataResponse({"responses": responses})


def _operations(raw: bytes) -> list[dict[str, Any]]:
    try:
        requests = json.loads(raw)["requests"]
    except (ValueError, KeyError, TypeError):
        raise BcFault(400, "BadRequest", "Invalid batch request body") from None
    if not isinstance(requests, list) or not all(
        isinstance(op, dict) and {"id", "method", "url"} <= op.keys() for op in requests
    ):
        raise BcFault(400, "BadRequest", "Invalid batch request body")
    if len(requests) > MAX_OPERATIONS:
        raise BcFault(
            400,
            "BadRequest",
            f"The batch request contains {len(requests)} operations; the maximum is "
            f"{MAX_OPERATIONS}.",
        )
    return requests


def _resolve(url: str, root: str, entities: dict[str, str]) -> tuple[str, str]:
    path, _, query = url.partition("?")
    if path.startswith("$"):
        reference, _, rest = path[1:].partition("/")
        if reference not in entities:
            raise BcFault(400, "BadRequest", f"The batch reference '${reference}' is unknown.")
        path = f"{entities[reference]}/{rest}" if rest else entities[reference]
    elif not path.startswith("/"):
        path = f"{root}/{path}"
    return path, query


async def _handle(
    request: Request, operation: dict[str, Any], path: str, query: str
) -> tuple[int, dict[str, str], Any]:
    """One operation through the sandbox's routes (inside its limits and faults)."""
    injector = getattr(request.app.state, "faults", None)
    if injector is not None and (status := injector.operation_error()) is not None:
        return status, {"content-type": "text/plain"}, "injected fault"
    body = b"" if operation.get("body") is None else json.dumps(operation["body"]).encode()
    headers = [(b"content-type", b"application/json")] + [
        (name.lower().encode(), str(value).encode())
        for name, value in (operation.get("headers") or {}).items()
    ]
    scope = {key: value for key, value in request.scope.items() if key not in ("endpoint", "route")}
    scope.update(
        method=str(operation["method"]).upper(),
        path=path,
        raw_path=path.encode(),
        query_string=query.encode(),
        headers=headers,
    )
    sent: list[Message] = []
    delivered = False

    async def receive() -> Message:
        nonlocal delivered
        if delivered:
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    try:
        await request.app.router(scope, receive, send)
    except HTTPException as error:
        return _answer(routing_error(error.status_code, scope["method"], path))
    except BcFault as fault:
        return _answer(bc_error(fault.status, fault.code, fault.message))
    start = next(message for message in sent if message["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    answer_headers = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], answer_headers, json.loads(content) if content else None


def _answer(response: Response) -> tuple[int, dict[str, str], Any]:
    return (
        response.status_code,
        {"content-type": "application/json"},
        json.loads(bytes(response.body)),
    )


def _failed_dependency(blocked: list[str]) -> tuple[int, dict[str, str], Any]:
    return _answer(
        bc_error(
            424,
            "BadRequest_FailedDependency",
            f"The request depends on the failed request(s) {', '.join(blocked)}.",
        )
    )
