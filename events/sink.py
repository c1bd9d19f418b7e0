"""What the relay publishes to: a webhook fan-out, a broker, or a test's list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from events.envelope import CloudEvent


class EventSink(Protocol):
    """A destination of published events.

    The relay hands each event to every sink at least once, in commit order per subject.
    A sink must therefore treat an event id it has seen before as already done (the
    broker's de-duplication window, a unique key on webhook messages).
    """

    name: str

    async def publish(self, events: Sequence[CloudEvent]) -> None:
        """Take `events` durably; raise to have the relay offer them again later."""
        ...


@runtime_checkable
class ClosableSink(Protocol):
    """A sink holding a connection, closed when the relay stops."""

    async def aclose(self) -> None: ...
