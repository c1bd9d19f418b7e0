"""Input hygiene: text the databases cannot store, and numbers JSON does not have, are
refused at the edge before any handler or query sees them.

PostgreSQL stores no NUL character and no text that is not valid Unicode; SQLite
stores both, so without this a request would succeed on one database and end in a
500 on the other. Checked here, on both alike:

- the path and the query string (filters): a NUL or invalid UTF-8 once
  percent-decoded is a 422 `invalid-text` problem;
- JSON bodies: nesting deeper than `MAX_JSON_DEPTH` is a 400 `json-too-deep`, found
  by a scan before anything parses the body (so a body deep enough to exhaust the
  parser's recursion gets it too); a NUL or a lone surrogate (`"\\ud800"`) in any
  key or string is a 422 `invalid-text`; a body that is not UTF-8, `NaN`, `Infinity`
  and `-Infinity` (which Python's parser accepts, and RFC 8259 does not) are a 400
  `malformed-json`;
- form bodies (the token endpoint): a NUL or invalid UTF-8 is a 400 `invalid-text`
  (RFC 6749 answers bad token requests with a 400).

The body is the one `uploads.py` has already received in full (its `Replay`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Receive, Scope, Send

from app.governance.asgi import send_problem
from app.governance.raw_headers import header
from app.governance.uploads import Replay, declares_body
from core.errors import problem_type
from core.problems import problem_document

MAX_JSON_DEPTH = 32
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Only a body holding one of these can hide a string or number refused here: the others
# are not parsed twice.
SUSPECT = re.compile(rb"\\u|\x00|NaN|Infinity")
# Strings, escapes included: their brackets do not nest.
_STRINGS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in `body` (0 for a scalar), counted as the
    brackets open, so an unclosed run counts too. Strings and everything but brackets are
    dropped first, in C: a batch of a thousand objects is scanned in a fraction of the
    time a token-by-token walk of the whole body took."""
    depth = deepest = 0
    for byte in _STRINGS.sub(b"", body).translate(None, _NOT_BRACKETS):
        if byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


class _Refusal(Exception):
    def __init__(self, status: int, slug: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.slug, self.detail = status, slug, detail


TITLES = {
    "invalid-text": "Text that cannot be stored",
    "malformed-json": "Malformed JSON body",
    "json-too-deep": "JSON nested too deeply",
}


class InputHygieneMiddleware:
    """Runs inside `UploadMiddleware`, and reads the body from its `Replay`: a plain
    `__call__` returning the inner app's awaitable (no frame of its own: `asgi.py`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        if scope["type"] != "http":
            return self.app(scope, receive, send)
        try:
            _check_url(scope)
            if declares_body(scope):
                if not isinstance(receive, Replay):
                    raise TypeError("InputHygieneMiddleware runs inside UploadMiddleware")
                _check_body(header(scope, b"content-type") or "", receive.body)
        except _Refusal as refusal:
            document = problem_document(
                type_uri=problem_type(refusal.slug),
                title=TITLES[refusal.slug],
                status=refusal.status,
                detail=refusal.detail,
                instance=scope["path"],
                correlation_id=scope.get("state", {}).get("correlation_id"),
            )
            return send_problem(send, refusal.status, document)
        return self.app(scope, receive, send)


def _storable(raw: bytes) -> bool:
    try:
        return "\x00" not in raw.decode("utf-8")
    except UnicodeDecodeError:
        return False


def _check_url(scope: Scope) -> None:
    for part, raw in (("path", scope.get("raw_path") or b""), ("query", scope["query_string"])):
        if not _storable(unquote_to_bytes(raw.replace(b"+", b" "))):
            raise _Refusal(422, "invalid-text", f"the {part} holds a NUL or invalid UTF-8")


def _check_body(content_type: str, body: bytes) -> None:
    media_type = content_type.partition(";")[0].strip().lower()
    if media_type == "application/x-www-form-urlencoded":
        if not _storable(unquote_to_bytes(body.replace(b"+", b" "))):
            raise _Refusal(400, "invalid-text", "the form holds a NUL or invalid UTF-8")
    elif media_type == "application/json" or media_type.endswith("+json"):
        _check_json(body)


def _check_json(body: bytes) -> None:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _Refusal(400, "malformed-json", "the body is not UTF-8, so not JSON") from error
    if body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH and json_depth(body) > MAX_JSON_DEPTH:
        raise _Refusal(
            400,
            "json-too-deep",
            f"the body nests arrays and objects deeper than {MAX_JSON_DEPTH} levels",
        )
    if not SUSPECT.search(body):
        return
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError:
        return  # the framework's parser says what is wrong with it
    pending = [document]  # shallow (checked above), but walked without recursion anyway
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if UNSTORABLE.search(value):
                raise _Refusal(422, "invalid-text", "a string holds a NUL or invalid Unicode")
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)


def _refuse_constant(name: str) -> Any:
    raise _Refusal(400, "malformed-json", f"{name} is not a JSON number")
