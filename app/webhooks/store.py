"""The database side of webhook receiving: a replay store and the inbox.

Both work in the caller's session, so that claiming an event id and putting the
event in the inbox commit together: a receiver that fails in between leaves neither
behind, and Stripe's retry is accepted.

Receipts are kept for twice the signature tolerance. A delivery signed at `t` is
accepted at `r` only if `|r - t| <= tolerance`, and a replay of it only while
`now <= t + tolerance`, so `now <= r + 2 x tolerance`: past that the timestamp check
refuses the replay on its own and the receipt can go. A later redelivery by Stripe
itself (re-signed, so within tolerance) is recognised by the inbox's unique key.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.models.webhook_event import WebhookInboxRow, WebhookReceiptRow
from system_apis.billing.schemas import BillingEvent

RETENTION_FACTOR = 2


class DatabaseReplayStore:
    """A `ReplayStore` (`system_apis.billing.webhooks`) on the session's transaction.

    `claim` inserts the receipt and flushes: a duplicate, even one committed by a
    concurrent request a moment earlier, breaks the primary key, the transaction is
    rolled back and the claim is lost. On PostgreSQL the second insert waits for the
    first transaction to end; on SQLite the write lock serialises them.
    """

    def __init__(self, session: AsyncSession, *, provider: str, tolerance_seconds: int) -> None:
        self._session = session
        self._provider = provider
        self._retention = timedelta(seconds=tolerance_seconds * RETENTION_FACTOR)

    async def claim(self, event_id: str, *, now: float) -> bool:
        received_at = datetime.fromtimestamp(now, UTC)
        await self._session.execute(
            delete(WebhookReceiptRow).where(
                WebhookReceiptRow.provider == self._provider,
                WebhookReceiptRow.received_at < received_at - self._retention,
            )
        )
        self._session.add(
            WebhookReceiptRow(provider=self._provider, event_id=event_id, received_at=received_at)
        )
        try:
            await self._session.flush()
        except IntegrityError:
            await self._session.rollback()
            return False
        return True

    async def release(self, event_id: str) -> None:
        await self._session.execute(
            delete(WebhookReceiptRow).where(
                WebhookReceiptRow.provider == self._provider,
                WebhookReceiptRow.event_id == event_id,
            )
        )
        await self._session.flush()


async def add_to_inbox(
    session: AsyncSession, *, provider: str, event: BillingEvent, received_at: datetime
) -> bool:
    """Put the event in the inbox; False when it is there already (a late redelivery)."""
    existing = await session.scalar(
        select(WebhookInboxRow.id).where(
            WebhookInboxRow.provider == provider, WebhookInboxRow.event_id == event.id
        )
    )
    if existing is not None:
        return False
    session.add(
        WebhookInboxRow(
            provider=provider,
            event_id=event.id,
            event_type=event.type.value,
            vendor_type=event.vendor_type,
            payload=event.model_dump(mode="json"),
            received_at=received_at,
        )
    )
    await session.flush()
    return True
