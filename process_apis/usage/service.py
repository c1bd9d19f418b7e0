"""A batch of usage events in, one answer per event out.

Per client, an event id is accepted once: the first body wins, the same body again is a
`duplicate`, another body under the id is rejected as a conflict. The batch is checked
in one transaction (stored ids, contracts, caps) and written in one statement whose
`ON CONFLICT DO NOTHING` settles races with concurrent batches exactly.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.duplicates import DuplicateSource, count_duplicates
from core.models.base import utcnow
from core.quantity import to_micros
from core.settings import UsageSettings
from events.outbox import record_all
from process_apis.usage import repository
from process_apis.usage.caps import CapVerdict, check_caps
from process_apis.usage.contract import EventRefused, Resolved, load_contracts, resolve
from process_apis.usage.errors import CapExceeded, UsageEventConflict
from process_apis.usage.events import cap_exceeded
from process_apis.usage.problems import Answers
from process_apis.usage.schemas import UsageBatchResult, UsageEventIn

# One encoder for every event: `json.dumps` with options builds a new one per call.
CANONICAL_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


def body_hash(event: UsageEventIn) -> str:
    """What makes two sends the same event, independent of how the JSON was written."""
    properties = CANONICAL_JSON.encode(event.properties) if event.properties else ""
    canonical = "\x1f".join(
        (
            event.customer_id or "",
            event.subscription_id or "",
            event.meter,
            str(to_micros(event.quantity)),
            event.timestamp.astimezone(UTC).isoformat(),
            properties,
        )
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Fresh:
    """An event whose id the client has not used before (as far as the batch knows)."""

    index: int
    event: UsageEventIn
    hash: str


class UsageIngestion:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: UsageSettings,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.clock = clock

    async def ingest(
        self, client_id: str, events: Sequence[dict[str, Any]], *, correlation_id: str | None
    ) -> UsageBatchResult:
        answers = Answers(correlation_id)
        firsts: dict[str, Fresh] = {}
        copies: list[Fresh] = []
        for index, event in _validated(events, answers):
            fresh = Fresh(index, event, body_hash(event))
            if firsts.setdefault(event.id, fresh) is not fresh:
                copies.append(fresh)
        async with self.sessionmaker.begin() as session:
            await self._store(session, client_id, list(firsts.values()), answers)
            for copy in copies:
                first = firsts[copy.event.id]
                answers.copy_of(
                    copy.index, copy.event.id, first.index, same=copy.hash == first.hash
                )
            result = answers.result()
            await count_duplicates(session, DuplicateSource.USAGE_EVENT, result.duplicate)
        return result

    async def _store(
        self, session: AsyncSession, client_id: str, fresh: list[Fresh], answers: Answers
    ) -> None:
        stored = await repository.stored_hashes(session, client_id, [f.event.id for f in fresh])
        fresh = [f for f in fresh if not _seen(f, stored.get(f.event.id), answers)]
        contracts = await load_contracts(session, [f.event for f in fresh])
        now, grace = self.clock(), self.settings.late_grace
        placed: list[Resolved | None] = []
        for item in fresh:
            try:
                placed.append(resolve(contracts, item.event, now=now, grace=grace))
            except EventRefused as refused:
                answers.refused(item.index, item.event.id, refused.error, refused.field)
                placed.append(None)
        verdicts = await check_caps(session, placed)
        rows = []
        for item, resolved, verdict in zip(fresh, placed, verdicts, strict=True):
            if resolved is None:
                continue
            if verdict is not None and verdict.refused:
                answers.refused(item.index, item.event.id, _cap_problem(verdict), "quantity")
                continue
            rows.append((item, resolved, verdict))
        await self._insert(session, client_id, rows, answers)

    async def _insert(
        self,
        session: AsyncSession,
        client_id: str,
        rows: list[tuple[Fresh, Resolved, CapVerdict | None]],
        answers: Answers,
    ) -> None:
        received = self.clock()
        inserted = await repository.insert_new(
            session, [_row(client_id, *row, received) for row in rows]
        )
        raced = [item.event.id for item, _, _ in rows if item.event.id not in inserted]
        stored = await repository.stored_hashes(session, client_id, raced)
        flagged = []
        for item, resolved, verdict in rows:
            if item.event.id in inserted:
                answers.accepted(item.index, item.event.id, resolved, flagged=verdict is not None)
                if verdict is not None:
                    flagged.append(
                        cap_exceeded(
                            client_id,
                            item.event,
                            resolved,
                            verdict,
                            correlation_id=answers.correlation_id,
                        )
                    )
            elif not _seen(item, stored.get(item.event.id), answers):
                # Stored by a concurrent batch, then purged before this lookup.
                answers.duplicate(item.index, item.event.id)
        await record_all(session, flagged)


EVENTS = TypeAdapter(list[UsageEventIn])


def _validated(
    events: Sequence[dict[str, Any]], answers: Answers
) -> list[tuple[int, UsageEventIn]]:
    """The valid events with their places: the whole batch in one pass when it is all
    valid, else event by event, each invalid one answered in its place."""
    try:
        return list(enumerate(EVENTS.validate_python(events)))
    except ValidationError:
        pass
    valid = []
    for index, raw in enumerate(events):
        try:
            valid.append((index, UsageEventIn.model_validate(raw)))
        except ValidationError as error:
            answers.invalid(index, raw, error)
    return valid


def _seen(item: Fresh, stored_hash: str | None, answers: Answers) -> bool:
    """Answer an id the client used before: `duplicate`, or a conflict for another body."""
    if stored_hash is None:
        return False
    if stored_hash == item.hash:
        answers.duplicate(item.index, item.event.id)
    else:
        answers.refused(
            item.index,
            item.event.id,
            UsageEventConflict(f"event {item.event.id} was accepted before with another body"),
            "id",
        )
    return True


def _cap_problem(verdict: CapVerdict) -> CapExceeded:
    return CapExceeded(
        f"the period's usage would be {verdict.usage}, over the cap of {verdict.cap}",
        cap=verdict.cap,
        usage=verdict.usage,
    )


def _row(
    client_id: str,
    item: Fresh,
    resolved: Resolved,
    verdict: CapVerdict | None,
    received: datetime,
) -> dict[str, Any]:
    return {
        "client_id": client_id,
        "event_id": item.event.id,
        "subscription_id": resolved.subscription.id,
        "price_id": resolved.price.id,
        "meter": item.event.meter,
        "quantity_micros": resolved.quantity_micros,
        "distinct_value": resolved.distinct_value,
        "occurred_at": item.event.timestamp,
        "period_start": resolved.period.start,
        "period_end": resolved.period.end,
        "late": resolved.late,
        "flagged": verdict is not None,
        "properties": item.event.properties or None,
        "body_hash": item.hash,
        "received_at": received,
    }
