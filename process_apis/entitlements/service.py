"""Entitlements: the local canonical rows, and the support desk brought in line with them.

Locally a subscription grants one row per feature of its product's tier. The desk
holds one entitlement per customer and product with its support tier. Every workflow
that changes subscriptions ends with `reconcile`: it computes what the desk should
hold from the customer's entitled subscriptions and grants, re-tiers and revokes
until it does, granting before revoking so that an upgrade never leaves the
customer without support for a moment. Doing it twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.canonical.subscriptions import (
    ENTITLEMENT_STATUS,
    EntitlementStatus,
    SubscriptionStatus,
)
from core.ids import new_id
from core.models.dunning import DunningCaseRow, DunningStatus
from core.models.entitlement import EntitlementRow
from core.models.price import PriceRow
from core.models.product import ProductRow
from core.models.subscription import SubscriptionRow
from events.outbox import record
from events.schemas.entitlement import EntitlementGranted, EntitlementRevoked, entitlement_event
from process_apis.entitlements.features import TIER_FEATURES, support_tier
from system_apis.support.port import SupportEntitlements
from system_apis.support.schemas import (
    SupportEntitlement,
    SupportEntitlementGrant,
    SupportEntitlementStatus,
    SupportTier,
)

ENTITLED = (SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE)


class SupportSync(BaseModel):
    """What `reconcile` did, and the customer's active desk entitlements afterwards."""

    granted: list[str]
    retiered: list[str]
    revoked: list[str]
    active: list[SupportEntitlement]


async def entitled_products(
    session: AsyncSession, customer_id: str, *, exclude: str | None = None
) -> list[tuple[str, str, str]]:
    """(subscription id, product id, product tier) of the customer's entitled subscriptions."""
    rows = await session.execute(
        select(SubscriptionRow.id, ProductRow.id, ProductRow.tier)
        .join(PriceRow, SubscriptionRow.price_id == PriceRow.id)
        .join(ProductRow, PriceRow.product_id == ProductRow.id)
        .where(SubscriptionRow.customer_id == customer_id, SubscriptionRow.status.in_(ENTITLED))
        .order_by(SubscriptionRow.created_at, SubscriptionRow.id)
    )
    return [(sub, product, tier) for sub, product, tier in rows if sub != exclude]


async def desired_support(
    session: AsyncSession,
    customer_id: str,
    *,
    exclude: str | None = None,
    plus: Mapping[str, SupportTier] | None = None,
) -> dict[str, SupportTier]:
    """The desk entitlements (product → tier) the customer should hold: none while its
    account is suspended (dunning), so every re-sync keeps the suspension.

    `exclude` leaves out a subscription that is being cancelled or changed; `plus` adds
    what a subscription being ordered or changed will grant.
    """
    if await account_suspended(session, customer_id):
        return {}
    desired = {
        product: support_tier(tier)
        for _sub, product, tier in await entitled_products(session, customer_id, exclude=exclude)
    }
    desired.update(plus or {})
    return desired


async def account_suspended(session: AsyncSession, customer_id: str) -> bool:
    """Whether the customer's account is suspended for non-payment."""
    found = await session.scalar(
        select(DunningCaseRow.id).where(
            DunningCaseRow.customer_id == customer_id,
            DunningCaseRow.status == DunningStatus.SUSPENDED,
        )
    )
    return found is not None


async def reconcile(
    support: SupportEntitlements,
    customer_id: str,
    desired: Mapping[str, SupportTier],
    *,
    key_prefix: str,
) -> SupportSync:
    """Make the desk hold exactly `desired` for the customer (grants first, then revokes)."""
    held = {
        e.product_id: e
        for e in await support.list_entitlements(customer_id)
        if e.status == SupportEntitlementStatus.ACTIVE
    }
    granted, retiered, revoked = [], [], []
    active: dict[str, SupportEntitlement] = {}
    for product_id, tier in sorted(desired.items()):
        current = held.get(product_id)
        if current is None:
            current = await support.grant_entitlement(
                customer_id,
                SupportEntitlementGrant(product_id=product_id, tier=tier),
                idempotency_key=f"{key_prefix}:grant:{product_id}:{tier.value}",
            )
            granted.append(current.id)
        elif current.tier != tier:
            current = await support.change_entitlement_tier(current.id, tier)
            retiered.append(current.id)
        active[product_id] = current
    for product_id, current in sorted(held.items()):
        if product_id not in desired:
            await support.revoke_entitlement(current.id)
            revoked.append(current.id)
    return SupportSync(
        granted=granted, retiered=retiered, revoked=revoked, active=list(active.values())
    )


async def subscription_entitlements(
    session: AsyncSession, subscription_id: str
) -> Sequence[EntitlementRow]:
    return (
        await session.scalars(
            select(EntitlementRow)
            .where(
                EntitlementRow.subscription_id == subscription_id,
                EntitlementRow.status == EntitlementStatus.ACTIVE,
            )
            .order_by(EntitlementRow.created_at, EntitlementRow.id)
        )
    ).all()


async def grant_local(
    session: AsyncSession,
    *,
    subscription_id: str,
    customer_id: str,
    product_id: str,
    tier: SupportTier,
) -> None:
    """The subscription's active rows become exactly its tier's features.

    Features the new tier keeps move to the new product and tier; those it lacks are
    revoked; those it adds are granted.
    """
    wanted = TIER_FEATURES[tier]
    held = {row.feature: row for row in await subscription_entitlements(session, subscription_id)}
    granted: list[EntitlementRow] = []
    revoked: list[EntitlementRow] = []
    for feature, row in held.items():
        if feature not in wanted:
            row.status = ENTITLEMENT_STATUS.check(
                EntitlementStatus(row.status), EntitlementStatus.REVOKED
            )
            revoked.append(row)
        elif (row.product_id, row.tier) != (product_id, tier.value):
            row.product_id, row.tier = product_id, tier.value
            granted.append(row)
    granted += [
        EntitlementRow(
            id=new_id("entitlement"),
            customer_id=customer_id,
            subscription_id=subscription_id,
            product_id=product_id,
            feature=feature,
            tier=tier.value,
            status=EntitlementStatus.ACTIVE,
        )
        for feature in wanted
        if feature not in held
    ]
    session.add_all(granted)
    await _changed(session, granted=granted, revoked=revoked)


async def revoke_local(session: AsyncSession, subscription_id: str) -> None:
    revoked = list(await subscription_entitlements(session, subscription_id))
    for row in revoked:
        row.status = ENTITLEMENT_STATUS.check(
            EntitlementStatus(row.status), EntitlementStatus.REVOKED
        )
    await _changed(session, granted=[], revoked=revoked)


async def _changed(
    session: AsyncSession, *, granted: list[EntitlementRow], revoked: list[EntitlementRow]
) -> None:
    """Write the changed rows, and their events (each row's new version names its change)."""
    await session.flush()
    await record(
        session,
        *(entitlement_event(EntitlementGranted, row, correlation_id=None) for row in granted),
        *(entitlement_event(EntitlementRevoked, row, correlation_id=None) for row in revoked),
    )


async def customer_entitlements(
    session: AsyncSession, customer_id: str, *, status: EntitlementStatus | None = None
) -> Sequence[EntitlementRow]:
    query = select(EntitlementRow).where(EntitlementRow.customer_id == customer_id)
    if status is not None:
        query = query.where(EntitlementRow.status == status)
    return (await session.scalars(query.order_by(EntitlementRow.created_at))).all()


async def rebuild_local(session: AsyncSession, customer_id: str) -> None:
    """Local rows re-derived from the customer's subscriptions: entitled ones grant theirs,
    the others hold none."""
    entitled = await entitled_products(session, customer_id)
    for subscription_id, product_id, tier in entitled:
        await grant_local(
            session,
            subscription_id=subscription_id,
            customer_id=customer_id,
            product_id=product_id,
            tier=support_tier(tier),
        )
    keep = {subscription_id for subscription_id, _product, _tier in entitled}
    stale = await session.scalars(
        select(EntitlementRow.subscription_id)
        .where(
            EntitlementRow.customer_id == customer_id,
            EntitlementRow.status == EntitlementStatus.ACTIVE,
        )
        .distinct()
    )
    for stale_id in set(stale.all()) - keep:
        if stale_id is not None:
            await revoke_local(session, stale_id)
