"""The correlation id of a request.

`X-Correlation-ID` is accepted when it is a sane token, minted otherwise, returned
on every response (errors included) and visible to every log line and backend call
(the edge, `edge.py`, sets it for the request and logs the request's line with it).
"""

from __future__ import annotations

import re
import uuid

from starlette.types import Scope

HEADER = "x-correlation-id"
HEADER_BYTES = HEADER.encode()
_VALID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


def accept_or_mint(value: str | None) -> str:
    if value is not None and _VALID.match(value):
        return value
    return str(uuid.uuid4())


def correlation_id_of(scope: Scope) -> str:
    """The request's `X-Correlation-ID` (the last one, as a dict of the headers would
    keep) when it is a sane token, else a fresh one."""
    sent = b""
    for name, value in scope["headers"]:
        if name == HEADER_BYTES:
            sent = value
    return accept_or_mint(sent.decode("latin-1") or None)


def with_correlation_id(
    headers: list[tuple[bytes, bytes]], cid: bytes
) -> list[tuple[bytes, bytes]]:
    """`headers` with `cid` as the one `X-Correlation-ID`."""
    return [*[(k, v) for k, v in headers if k.lower() != HEADER_BYTES], (HEADER_BYTES, cid)]
