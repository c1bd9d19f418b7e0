"""Which outbox rows a relay may hand to one sink now, in commit order per subject.

Only unpublished rows are read, through their partial index in sequence order, and
each is checked against the sink's publications by primary key, so a claim reads about
a batch of rows however many were published before or wait behind it. The planner is
held to that plan: the "not taken" check is a per-row subplan (its `OFFSET 0` keeps it
from becoming an anti join over every publication), and on PostgreSQL the claim's
transaction turns off bitmap scans, which the statistics of a freshly filled outbox
(far fewer unpublished rows than there are) would otherwise pick, sorting the whole
backlog to keep a batch.

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

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Text,
    any_,
    bindparam,
    cast,
    exists,
    literal,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.types import Integer

from core.models.event_outbox import EventOutboxRow, EventPublicationRow


@dataclass(frozen=True)
class Claimed:
    sequence: int
    envelope: str  # the CloudEvent's JSON


@dataclass(frozen=True)
class Claim:
    """Rows to offer, oldest first, and whether more may be waiting for another pass."""

    rows: list[Claimed]
    more: bool


_HOLD = text(
    "SELECT lane FROM unnest(:lanes) AS lane "
    "WHERE pg_try_advisory_xact_lock(:sink_key, lane) LIMIT :share"
).bindparams(bindparam("lanes", type_=ARRAY(Integer)))


_IN_INDEX_ORDER = text("SET LOCAL enable_bitmapscan = off")


def among(
    column: InstrumentedAttribute[int], values: list[int], dialect: str
) -> ColumnElement[bool]:
    """`column IN values`; on PostgreSQL as one array parameter, so a statement is
    compiled once and not expanded to a parameter a value at each execution."""
    if dialect == "postgresql":
        return column == any_(literal(values, ARRAY(BigInteger)))
    return column.in_(values)


def _pending_for(sink: str) -> ColumnElement[bool]:
    """Unpublished, and not taken by `sink` (matching the partial index's predicate)."""
    taken = exists(
        select(literal(1))
        .where(
            EventPublicationRow.sequence == EventOutboxRow.sequence,
            EventPublicationRow.sink == sink,
        )
        .offset(0)
    )
    return EventOutboxRow.published_at.is_(None) & ~taken


async def claim(session: AsyncSession, sink: str, *, limit: int) -> Claim:
    """Up to `limit` rows `sink` may take now, in sequence order, held until the
    transaction ends."""
    if session.get_bind().dialect.name != "postgresql":
        rows = await _oldest(session, sink, None, limit)
        return Claim(rows, more=len(rows) >= limit)
    await session.execute(_IN_INDEX_ORDER)
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
    envelope = cast(EventOutboxRow.envelope, Text)
    query = select(EventOutboxRow.sequence, envelope).where(_pending_for(sink))
    if lanes is not None:
        query = query.where(among(EventOutboxRow.lane, lanes, "postgresql"))
    found = await session.execute(query.order_by(EventOutboxRow.sequence).limit(limit))
    return [Claimed(sequence, envelope) for sequence, envelope in found.all()]


def _sink_key(sink: str) -> int:
    """The first advisory-lock key of `sink`'s lanes (a signed 32-bit integer)."""
    return zlib.crc32(f"ledgergate.outbox.{sink}".encode()) - 2**31
