"""Sinks and events for tests of the outbox and its relay."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from events.envelope import CloudEvent
from events.schemas.exception import ExceptionOpened


def opened(subject: str, attempt: int) -> CloudEvent:
    """A valid event of `subject`, distinct per `attempt`."""
    data = ExceptionOpened(
        run_id=f"run_{subject}",
        workflow="invoice_posting",
        subject_id=subject,
        status="pending_retry",
        error_class="transient",
        error_type=None,
        attempts=attempt,
    )
    return data.event(subject=subject, fact=(subject, str(attempt)))


@dataclass
class Consumer:
    """What a consumer that de-duplicates by event id sees: first deliveries, in order."""

    seen: list[CloudEvent] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    deliveries: int = 0

    def take(self, events: Sequence[CloudEvent]) -> None:
        for event in events:
            self.deliveries += 1
            if event.id not in self.ids:
                self.ids.add(event.id)
                self.seen.append(event)

    def by_subject(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for event in self.seen:
            found.setdefault(event.subject, []).append(event.id)
        return found


@dataclass
class RecordingSink:
    """A sink handing what it takes to `consumer` after up to `delay` seconds (at random,
    so concurrent relays finish out of order); fails while `failing` is set."""

    name: str
    consumer: Consumer
    delay: float = 0.0
    failing: bool = False
    calls: int = 0

    async def publish(self, events: Sequence[CloudEvent]) -> None:
        self.calls += 1
        await asyncio.sleep(random.uniform(0, self.delay))  # noqa: S311
        if self.failing:
            raise ConnectionError(f"{self.name} is down")
        self.consumer.take(events)
