"""A complete answer in one `write()`: the response head held until the body's first write.

uvicorn's httptools protocol writes a response's status line and headers when the app
sends `http.response.start`, then the body on `http.response.body`: two sends, two TCP
segments, two wake-ups of the client for every answer. `HeldHead` stands in for the
transport of one request's response cycle from the moment the cycle is made: the head's
write is held and leaves joined to the body's first write (the whole body when the answer
is not streamed, the first chunk when it is). An answer whose body writes nothing (a HEAD
request) sends its head when the cycle completes or closes the connection. Once the head
has left, the cycle gets its own transport and completion callback back, so a streamed
answer's later chunks and everything after go to uvicorn's code untouched. A client that
disconnects before the body is sent nothing: uvicorn drops the body, and the held head with it.

Of uvicorn's cycle this uses what it writes through (`transport`: `write`, `close`,
`is_closing`), the flag it sets before writing the head (`response_started`) and its
completion callback (`on_response`); `tests/unit/app/test_held_head.py` fails if that changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from uvicorn.protocols.http.httptools_impl import RequestResponseCycle


class HeldHead:
    __slots__ = ("cycle", "transport", "on_response", "head")

    def __init__(self, cycle: RequestResponseCycle) -> None:
        self.cycle = cycle
        self.transport: asyncio.Transport = cycle.transport
        self.on_response: Callable[..., None] = cycle.on_response
        self.head: bytes | None = None
        cycle.transport = self  # type: ignore[assignment]
        cycle.on_response = self.completed

    def write(self, data: bytes) -> None:
        head = self.head
        if head is not None:
            self.step_aside()
            self.transport.write(head + data)
        elif self.cycle.response_started:
            self.head = data
        else:  # `100 Continue`, written before the answer starts
            self.transport.write(data)

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def is_closing(self) -> bool:
        return self.transport.is_closing()

    def completed(self) -> None:
        self.flush()
        self.on_response()

    def flush(self) -> None:
        """Send a held head alone: the answer ended, or the connection closes, with no body."""
        head = self.head
        if head is not None:
            self.step_aside()
            if not self.transport.is_closing():
                self.transport.write(head)

    def step_aside(self) -> None:
        """Give the cycle its own transport and completion callback back: the head has left."""
        self.head = None
        self.cycle.transport = self.transport
        self.cycle.on_response = self.on_response
