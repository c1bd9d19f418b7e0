"""Sending a problem+json answer from raw ASGI middleware, outside the app's handlers.

A middleware with nothing to do once the inner app has answered returns the inner app's
awaitable from a plain `__call__` instead of awaiting it in a coroutine of its own: a
request's task is resumed through every coroutine on its stack each time it waits (on
the database, the ERP, Redis; some thirty times a posting), and such a frame would cost
one call at each resumption for nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.types import Send

from core.problems import PROBLEM_MEDIA_TYPE


async def send_problem(
    send: Send,
    status: int,
    document: Mapping[str, object],
    headers: Mapping[str, str] | None = None,
) -> None:
    body = json.dumps(document).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
                *((k.lower().encode(), v.encode()) for k, v in (headers or {}).items()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
