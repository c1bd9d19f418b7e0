"""Which outbox rows a relay may hand to one sink now, in commit order per subject.

Only unpublished rows are read, through their partial index in sequence order, so a
claim costs the same however many events were published before.

On PostgreSQL, cooperating relays split the work by lane (`events.lanes`): a claim
samples the oldest rows the sink has not taken, holds the lanes covering the first
half of that sample which no other relay holds (a transaction-scoped advisory lock per
sink and lane), and takes the oldest rows of those lanes. When less than a batch waits,
there is nothing to share: it holds every lane of the sample it can. A subject's events are all
in one lane, so the relay holding it offers them in order and no other relay offers
them meanwhile; a relay never waits on another's rows. SQLite has a single writer: a
claim there takes the oldest rows of every lane.

Same-subject changes commit in order because each locks the subject's own row, so
sequence order is commit order within a subject.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, bindparam, exists, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Integer

from core.models.event_outbox import EventOutboxRow, EventPublicationRow


@dataclass(frozen=True)
class Claimed:
    sequence: int
    envelope: dict[str, Any]


@dataclass(frozen=True)
class Claim:
    """Rows to offer, oldest first, and whether more may be waiting for another pass."""

    rows: list[Claimed]
    more: bool


_HOLD = text(
    "SELECT lane FROM unnest(:lanes) AS lane "
    "WHERE pg_try_advisory_xact_lock(:sink_key, lane) LIMIT :share"
).bindparams(bindparam("lanes", type_=ARRAY(Integer)))


def _pending_for(sink: str) -> ColumnElement[bool]:
    """Unpublished, and not taken by `sink` (matching the partial index's predicate)."""
    taken = exists().where(
        EventPublicationRow.sequence == EventOutboxRow.sequence,
        EventPublicationRow.sink == sink,
    )
    return EventOutboxRow.published_at.is_(None) & ~taken


async def claim(session: AsyncSession, sink: str, *, limit: int) -> Claim:
    """Up to `limit` rows `sink` may take now, in sequence order, held until the
    transaction ends."""
    if session.get_bind().dialect.name != "postgresql":
        rows = await _oldest(session, sink, None, limit)
        return Claim(rows, more=len(rows) >= limit)
    sample = (
        await session.scalars(
            select(EventOutboxRow.lane)
            .where(_pending_for(sink))
            .order_by(EventOutboxRow.sequence)
            .limit(limit)
        )
    ).all()
    if not sample:
        return Claim([], more=False)
    wanted, share = _lanes_wanted(sample)
    if len(sample) < limit:
        share = len(wanted)
    held = list(
        await session.scalars(_HOLD, {"lanes": wanted, "sink_key": _sink_key(sink), "share": share})
    )
    if not held:
        return Claim([], more=False)  # every lane with work is another relay's now
    rows = await _oldest(session, sink, held, limit)
    skipped = len(held) == share and any(lane not in held for lane in sample)
    return Claim(rows, more=len(rows) >= limit or skipped)


def _lanes_wanted(sample: Sequence[int]) -> tuple[list[int], int]:
    """The sample's lanes, oldest first, and how many of them cover half of it."""
    counts = Counter(sample)
    wanted = list(counts)  # insertion order: first appearance in sequence order
    covered, share = 0, 0
    for lane in wanted:
        covered += counts[lane]
        share += 1
        if covered * 2 >= len(sample):
            break
    return wanted, share


async def _oldest(
    session: AsyncSession, sink: str, lanes: list[int] | None, limit: int
) -> list[Claimed]:
    query = select(EventOutboxRow.sequence, EventOutboxRow.envelope).where(_pending_for(sink))
    if lanes is not None:
        query = query.where(EventOutboxRow.lane.in_(lanes))
    found = await session.execute(query.order_by(EventOutboxRow.sequence).limit(limit))
    return [Claimed(sequence, envelope) for sequence, envelope in found.all()]


def _sink_key(sink: str) -> int:
    """The first advisory-lock key of `sink`'s lanes (a signed 32-bit integer)."""
    return zlib.crc32(f"ledgergate.outbox.{sink}".encode()) - 2**31
