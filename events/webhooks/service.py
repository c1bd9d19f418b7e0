"""Managing endpoints, and resending their messages, for their owner or an operator.

An endpoint belongs to the platform client that created it or, when created with a
partner-bound token, to that partner (any of its clients). `owner=None` is an operator
(the command line), who reaches every endpoint. Another owner's endpoint is a 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.ids import new_id
from core.models.webhook_attempt import WebhookAttemptRow
from core.models.webhook_endpoint import EndpointStatus, WebhookEndpointRow
from core.models.webhook_message import MessageStatus, WebhookMessageRow
from core.pagination import keyset_page
from events.webhooks import health
from events.webhooks.context import WebhookContext
from events.webhooks.errors import (
    WebhookEndpointDeleted,
    WebhookEndpointDisabled,
    WebhookEndpointNotFound,
    WebhookMessageNotFound,
)
from events.webhooks.filters import event_type_filter
from events.webhooks.schemas import WebhookEndpointCreate, WebhookEndpointUpdate
from events.webhooks.secrets import new_secret, seal

BY_CLIENT = "by_client"
BY_OPERATOR = "by_operator"
DELETED = "deleted"


@dataclass(frozen=True)
class Owner:
    client_id: str
    partner_id: str | None

    def condition(self) -> ColumnElement[bool]:
        if self.partner_id is not None:
            return WebhookEndpointRow.partner_id == self.partner_id
        return (WebhookEndpointRow.client_id == self.client_id) & (
            WebhookEndpointRow.partner_id.is_(None)
        )


async def create_endpoint(
    context: WebhookContext, owner: Owner, data: WebhookEndpointCreate
) -> tuple[WebhookEndpointRow, str]:
    """A new enabled endpoint and its secret; the filter must name catalog types and the
    URL pass the guard now."""
    event_types = event_type_filter(data.event_types)
    await context.guard.resolve(data.url)  # before the transaction: it asks DNS
    secret = new_secret()
    now = context.clock()
    endpoint = WebhookEndpointRow(
        id=new_id("webhook_endpoint"),
        client_id=owner.client_id,
        partner_id=owner.partner_id,
        url=data.url,
        description=data.description,
        event_types=event_types,
        status=EndpointStatus.ENABLED,
        secret_encrypted=seal(context.encryption, secret),
        consecutive_failures=0,
        created_at=now,
        updated_at=now,
    )
    async with context.sessionmaker.begin() as session:
        session.add(endpoint)
    return endpoint, secret


async def find_endpoint(
    session: AsyncSession, endpoint_id: str, owner: Owner | None
) -> WebhookEndpointRow:
    query = select(WebhookEndpointRow).where(WebhookEndpointRow.id == endpoint_id)
    if owner is not None:
        query = query.where(owner.condition())
    endpoint = await session.scalar(query)
    if endpoint is None:
        raise WebhookEndpointNotFound(f"no webhook endpoint {endpoint_id}")
    return endpoint


async def list_endpoints(
    session: AsyncSession, owner: Owner | None, *, cursor: str | None, limit: int
) -> tuple[list[WebhookEndpointRow], str | None]:
    """The owner's endpoints (an operator's: all), newest first; deleted ones are left out."""
    query = select(WebhookEndpointRow).where(WebhookEndpointRow.status != EndpointStatus.DELETED)
    if owner is not None:
        query = query.where(owner.condition())
    return await keyset_page(session, query, WebhookEndpointRow.id, cursor=cursor, limit=limit)


def _refuse_deleted(endpoint: WebhookEndpointRow) -> None:
    if endpoint.status == EndpointStatus.DELETED:
        raise WebhookEndpointDeleted(f"webhook endpoint {endpoint.id} was deleted")


def update_endpoint(
    endpoint: WebhookEndpointRow, data: WebhookEndpointUpdate, now: datetime, *, by: Owner | None
) -> None:
    """Apply a change by its owner (None: an operator); enabling again forgets the failures
    that disabled it."""
    _refuse_deleted(endpoint)
    if data.description is not None:
        endpoint.description = data.description
    if data.event_types is not None:
        endpoint.event_types = event_type_filter(data.event_types)
    if data.disabled is True and endpoint.status == EndpointStatus.ENABLED:
        endpoint.status = EndpointStatus.DISABLED
        endpoint.disabled_reason = BY_CLIENT if by is not None else BY_OPERATOR
        endpoint.disabled_at = now
    elif data.disabled is False and endpoint.status == EndpointStatus.DISABLED:
        endpoint.status = EndpointStatus.ENABLED
        endpoint.disabled_reason = None
        endpoint.disabled_at = None
        health.record_success(endpoint)
    endpoint.updated_at = now


def delete_endpoint(endpoint: WebhookEndpointRow, now: datetime) -> None:
    """Disable for good; its messages and delivery log are kept."""
    if endpoint.status == EndpointStatus.DELETED:
        return
    endpoint.status = EndpointStatus.DELETED
    endpoint.disabled_reason = DELETED
    endpoint.disabled_at = now
    endpoint.updated_at = now


def rotate_secret(
    context: WebhookContext, endpoint: WebhookEndpointRow, now: datetime
) -> tuple[str, datetime]:
    """A new secret, and until when the current one keeps signing beside it."""
    _refuse_deleted(endpoint)
    secret = new_secret()
    expires = now + context.settings.secret_rotation_grace
    endpoint.previous_secret_encrypted = endpoint.secret_encrypted
    endpoint.previous_secret_expires_at = expires
    endpoint.secret_encrypted = seal(context.encryption, secret)
    endpoint.updated_at = now
    return secret, expires


def _refuse_unless_enabled(endpoint: WebhookEndpointRow) -> None:
    _refuse_deleted(endpoint)
    if endpoint.status != EndpointStatus.ENABLED:
        raise WebhookEndpointDisabled(
            f"webhook endpoint {endpoint.id} is disabled ({endpoint.disabled_reason}); "
            "enable it first"
        )


async def find_message(
    session: AsyncSession, endpoint: WebhookEndpointRow, message_id: str
) -> WebhookMessageRow:
    message = await session.get(WebhookMessageRow, message_id)
    if message is None or message.endpoint_id != endpoint.id:
        raise WebhookMessageNotFound(f"no message {message_id} for endpoint {endpoint.id}")
    return message


def resend(endpoint: WebhookEndpointRow, message: WebhookMessageRow, now: datetime) -> None:
    """Due again now, on a fresh schedule, whatever became of it before."""
    _refuse_unless_enabled(endpoint)
    message.status = MessageStatus.PENDING
    message.attempts = 0
    message.next_attempt_at = now


async def recover(
    session: AsyncSession, endpoint: WebhookEndpointRow, since: datetime, now: datetime
) -> int:
    """Every message of `endpoint` made at or after `since` due again; how many."""
    _refuse_unless_enabled(endpoint)
    result = await session.execute(
        update(WebhookMessageRow)
        .where(
            WebhookMessageRow.endpoint_id == endpoint.id,
            WebhookMessageRow.created_at >= since,
        )
        .values(status=MessageStatus.PENDING, attempts=0, next_attempt_at=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def list_messages(
    session: AsyncSession,
    endpoint: WebhookEndpointRow,
    *,
    status: MessageStatus | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[WebhookMessageRow], str | None]:
    query = select(WebhookMessageRow).where(WebhookMessageRow.endpoint_id == endpoint.id)
    if status is not None:
        query = query.where(WebhookMessageRow.status == status)
    return await keyset_page(session, query, WebhookMessageRow.id, cursor=cursor, limit=limit)


async def list_attempts(
    session: AsyncSession, message: WebhookMessageRow, *, cursor: str | None, limit: int
) -> tuple[list[WebhookAttemptRow], str | None]:
    query = select(WebhookAttemptRow).where(WebhookAttemptRow.message_id == message.id)
    return await keyset_page(session, query, WebhookAttemptRow.id, cursor=cursor, limit=limit)
