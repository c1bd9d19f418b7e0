"""The console's usage view: the subscriptions that metered usage, by legal entity, and per
subscription item and period what was ingested, reported and invoiced (as
`GET /v1/subscriptions/{id}/usage`), with the usage differences reconciliation found."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.experience.console.queries import PAGE_SIZE, LegalEntity, legal_entities
from app.experience.console.render import page
from app.experience.console.security import SignedIn
from core.ids import id_pattern
from core.models.customer import CustomerRow
from core.models.reconciliation import ReconciliationDifferenceRow, ReconciliationRunRow
from core.models.subscription import SubscriptionRow
from core.models.usage_event import UsageEventRow
from core.models.usage_report import UsageReportRow
from core.pagination import Cursor, keyset_page
from process_apis.deps import SessionDep
from process_apis.reconciliation.usage import DOCUMENT_TYPE
from process_apis.usage.statement import subscription_usage

router = APIRouter(prefix="/console", include_in_schema=False)

SubscriptionID = Annotated[str, Path(pattern=id_pattern("subscription"))]
# The newest usage differences shown on a subscription's page.
DIFFERENCES_SHOWN = 50


@router.get("/usage")
async def metered_subscriptions(
    request: Request,
    session: SessionDep,
    operator: SignedIn,
    legal_entity: LegalEntity = None,
    cursor: Cursor = None,
) -> Response:
    """Subscriptions with usage ingested or reported, newest first, a page at a time."""
    metered = or_(
        exists().where(UsageEventRow.subscription_id == SubscriptionRow.id),
        exists().where(UsageReportRow.subscription_id == SubscriptionRow.id),
    )
    query = (
        select(SubscriptionRow)
        .join(CustomerRow, CustomerRow.id == SubscriptionRow.customer_id)
        .where(metered)
    )
    if legal_entity:
        query = query.where(CustomerRow.legal_entity_id == legal_entity)
    subscriptions, next_cursor = await keyset_page(
        session, query, SubscriptionRow.id, cursor=cursor, limit=PAGE_SIZE
    )
    return page(
        request,
        "usage.html",
        session=operator,
        subscriptions=subscriptions,
        next_cursor=next_cursor,
        legal_entity=legal_entity,
        legal_entities=await legal_entities(session),
        query=f"legal_entity={legal_entity}" if legal_entity else "",
    )


@router.get("/usage/{subscription_id}")
async def subscription_usage_page(
    request: Request, subscription_id: SubscriptionID, session: SessionDep, operator: SignedIn
) -> Response:
    usage = await subscription_usage(session, subscription_id)
    return page(
        request,
        "subscription_usage.html",
        session=operator,
        usage=usage,
        differences=await _differences(session, subscription_id),
    )


async def _differences(
    session: AsyncSession, subscription_id: str
) -> list[tuple[ReconciliationDifferenceRow, str]]:
    """The newest runs' usage differences of the subscription, each with the run's period."""
    rows = await session.execute(
        select(ReconciliationDifferenceRow, ReconciliationRunRow.period)
        .join(ReconciliationRunRow, ReconciliationRunRow.id == ReconciliationDifferenceRow.run_id)
        .where(
            ReconciliationDifferenceRow.document_type == DOCUMENT_TYPE,
            ReconciliationDifferenceRow.gateway_id == subscription_id,
        )
        .order_by(ReconciliationRunRow.started_at.desc(), ReconciliationDifferenceRow.sequence)
        .limit(DIFFERENCES_SHOWN)
    )
    return [(row, period) for row, period in rows]
