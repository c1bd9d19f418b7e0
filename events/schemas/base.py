"""What every event `data` schema shares, and how one becomes a CloudEvent."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict

from core.models.base import utcnow
from events.envelope import CloudEvent, new_event

_ABSENT = object()


class EventData(BaseModel):
    """The `data` of one event type; `event_type` is its CloudEvents `type`.

    Frozen and closed (`extra="forbid"`), so a payload is exactly its schema and the
    schema can be published as the event's contract.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]

    @classmethod
    def of(cls, row: object, **values: Any) -> Self:
        """The schema filled from `row`'s attributes of the same names, then `values`."""
        found = {**values}
        # A mapped row's loaded column is read from its `__dict__`, as the ORM's
        # instrumentation would (a call each); anything else once, by `getattr`.
        held = getattr(row, "__dict__", {})
        for name in cls.__pydantic_fields__:
            if name in values:
                continue
            if name in held:
                found[name] = held[name]
            elif (value := getattr(row, name, _ABSENT)) is not _ABSENT:
                found[name] = value
        return cls.model_validate(found)

    def event(
        self,
        *,
        subject: str,
        fact: tuple[str, ...],
        correlation_id: str | None = None,
        partner_id: str | None = None,
        time: datetime | None = None,
    ) -> CloudEvent:
        """The envelope of this data, its id derived from the type and `fact`."""
        return new_event(
            self.event_type,
            fact=fact,
            subject=subject,
            data=self.model_dump(mode="json"),
            time=time or utcnow(),
            correlation_id=correlation_id,
            partner_id=partner_id,
        )
