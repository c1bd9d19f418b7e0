"""Creating, reading and changing reference data under optimistic concurrency.

Every change names the version it was made against (`If-Match`): a missing one is
refused (`428`), a stale one too (`412`). A legal entity's periods and tax codes are
part of it, so changing them bumps the entity's version. Nothing is ever deleted:
a period is closed, a product or price deactivated, a partner terminated.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.experience.ops.refdata.errors import (
    DuplicateReference,
    OverlappingPeriod,
    UnknownErpConnection,
)
from app.experience.ops.refdata.schemas import (
    LegalEntityCreate,
    LegalEntityUpdate,
    PartnerCreate,
    PartnerUpdate,
    PeriodCreate,
    PriceCreate,
    PriceUpdate,
    ProductCreate,
    ProductUpdate,
)
from core.canonical.parties import PARTNER_STATUS, PartnerStatus, PeriodStatus
from core.errors import InvalidTransition, NotFound, PreconditionFailed, PreconditionRequired
from core.ids import new_id
from core.models.base import Base, utcnow
from core.models.legal_entity import AccountingPeriodRow, LegalEntityRow, TaxCodeMappingRow
from core.models.partner import PartnerRow
from core.models.price import PriceRow
from core.models.product import ProductRow

R = TypeVar("R", bound=Base)


def etag(version: int) -> str:
    return f'"{version}"'


def check_if_match(if_match: str | None, version: int, what: str) -> None:
    """`If-Match` must name the current version (`"3"`, `W/"3"`); `*` accepts any."""
    if if_match is None:
        raise PreconditionRequired(f"send If-Match with the {what}'s ETag as last read")
    tags = [tag.strip().removeprefix("W/").strip('"') for tag in if_match.split(",")]
    if "*" not in tags and str(version) not in tags:
        raise PreconditionFailed(
            f"the {what} is at version {version}, not {if_match}; read it again and retry",
            current_version=version,
        )


async def _get(session: AsyncSession, model: type[R], row_id: str, what: str) -> R:
    row = await session.get(model, row_id)
    if row is None:
        raise NotFound(f"no {what} {row_id}")
    return row


# Legal entities, their periods and tax codes


async def list_legal_entities(session: AsyncSession) -> Sequence[LegalEntityRow]:
    rows = await session.scalars(
        select(LegalEntityRow)
        .options(selectinload(LegalEntityRow.periods), selectinload(LegalEntityRow.tax_codes))
        .order_by(LegalEntityRow.code)
    )
    return rows.all()


async def get_legal_entity(session: AsyncSession, legal_entity_id: str) -> LegalEntityRow:
    row = await session.scalar(
        select(LegalEntityRow)
        .where(LegalEntityRow.id == legal_entity_id)
        .options(selectinload(LegalEntityRow.periods), selectinload(LegalEntityRow.tax_codes))
        .execution_options(populate_existing=True)
    )
    if row is None:
        raise NotFound(f"no legal entity {legal_entity_id}")
    return row


async def _check_entity_keys(
    session: AsyncSession, *, code: str | None, erp_company_id: str | None, own_id: str | None
) -> None:
    for column, value, what in (
        (LegalEntityRow.code, code, "code"),
        (LegalEntityRow.erp_company_id, erp_company_id, "ERP company"),
    ):
        if value is None:
            continue
        holder = await session.scalar(select(LegalEntityRow.id).where(column == value))
        if holder is not None and holder != own_id:
            raise DuplicateReference(f"legal entity {holder} already has {what} {value}")


def _check_connection(name: str, erp_connections: Collection[str]) -> None:
    if name not in erp_connections:
        raise UnknownErpConnection(
            f"no ERP connection {name!r}; configured: {', '.join(sorted(erp_connections))}",
            pointer="#/erp_connection",
        )


async def create_legal_entity(
    session: AsyncSession, *, data: LegalEntityCreate, erp_connections: Collection[str]
) -> LegalEntityRow:
    _check_connection(data.erp_connection, erp_connections)
    await _check_entity_keys(
        session, code=data.code, erp_company_id=data.erp_company_id, own_id=None
    )
    row = LegalEntityRow(id=new_id("legal_entity"), **data.model_dump())
    session.add(row)
    await session.flush()
    return await get_legal_entity(session, row.id)


async def update_legal_entity(
    session: AsyncSession,
    legal_entity_id: str,
    *,
    data: LegalEntityUpdate,
    if_match: str | None,
    erp_connections: Collection[str],
) -> LegalEntityRow:
    entity = await get_legal_entity(session, legal_entity_id)
    check_if_match(if_match, entity.version, "legal entity")
    changes = data.model_dump(exclude_none=True)
    if "erp_connection" in changes:
        _check_connection(changes["erp_connection"], erp_connections)
    await _check_entity_keys(
        session, code=None, erp_company_id=data.erp_company_id, own_id=entity.id
    )
    for name, value in changes.items():
        setattr(entity, name, value)
    await session.flush()
    return entity


async def _entity_for_change(
    session: AsyncSession, legal_entity_id: str, if_match: str | None
) -> LegalEntityRow:
    """The entity, checked against `If-Match`, marked changed so its version moves on."""
    entity = await get_legal_entity(session, legal_entity_id)
    check_if_match(if_match, entity.version, "legal entity")
    entity.updated_at = utcnow()
    return entity


async def add_period(
    session: AsyncSession, legal_entity_id: str, *, data: PeriodCreate, if_match: str | None
) -> LegalEntityRow:
    entity = await _entity_for_change(session, legal_entity_id, if_match)
    for period in entity.periods:
        if period.starts_on <= data.ends_on and data.starts_on <= period.ends_on:
            raise OverlappingPeriod(
                f"{data.starts_on}..{data.ends_on} overlaps period {period.id} "
                f"({period.starts_on}..{period.ends_on})"
            )
    entity.periods.append(
        AccountingPeriodRow(
            id=new_id("accounting_period"),
            legal_entity_id=entity.id,
            starts_on=data.starts_on,
            ends_on=data.ends_on,
            status=data.status,
        )
    )
    await session.flush()
    return await get_legal_entity(session, entity.id)


async def set_period_status(
    session: AsyncSession,
    legal_entity_id: str,
    period_id: str,
    *,
    status: PeriodStatus,
    reason: str | None,
    if_match: str | None,
) -> LegalEntityRow:
    """Close an open period, or reopen a closed one (the caller requires a reason)."""
    entity = await _entity_for_change(session, legal_entity_id, if_match)
    period = next((p for p in entity.periods if p.id == period_id), None)
    if period is None:
        raise NotFound(f"legal entity {legal_entity_id} has no period {period_id}")
    if period.status == status:
        raise InvalidTransition(
            f"period {period_id} is already {status}", current_status=period.status
        )
    period.status = status
    period.status_reason = reason
    await session.flush()
    return entity


async def put_tax_code(
    session: AsyncSession,
    legal_entity_id: str,
    tax_code: str,
    *,
    erp_tax_code: str,
    if_match: str | None,
) -> LegalEntityRow:
    """Map a canonical tax code to the entity's ERP tax group, or change the mapping."""
    entity = await _entity_for_change(session, legal_entity_id, if_match)
    mapping = next((m for m in entity.tax_codes if m.tax_code == tax_code), None)
    if mapping is None:
        entity.tax_codes.append(
            TaxCodeMappingRow(
                id=new_id("tax_code_mapping"),
                legal_entity_id=entity.id,
                tax_code=tax_code,
                erp_tax_code=erp_tax_code,
            )
        )
    else:
        mapping.erp_tax_code = erp_tax_code
    await session.flush()
    return await get_legal_entity(session, entity.id)


# Partners


async def list_partners(session: AsyncSession) -> Sequence[PartnerRow]:
    return (await session.scalars(select(PartnerRow).order_by(PartnerRow.name))).all()


async def get_partner(session: AsyncSession, partner_id: str) -> PartnerRow:
    return await _get(session, PartnerRow, partner_id, "partner")


async def create_partner(session: AsyncSession, *, data: PartnerCreate) -> PartnerRow:
    row = PartnerRow(
        id=new_id("partner"),
        name=data.name,
        status=data.status,
        commission_plan=data.commission_plan,
        crm_ref=data.crm_ref,
    )
    session.add(row)
    await session.flush()
    return row


async def update_partner(
    session: AsyncSession, partner_id: str, *, data: PartnerUpdate, if_match: str | None
) -> PartnerRow:
    partner = await get_partner(session, partner_id)
    check_if_match(if_match, partner.version, "partner")
    if data.status is not None and data.status != partner.status:
        partner.status = PARTNER_STATUS.check(PartnerStatus(partner.status), data.status)
    for name, value in data.model_dump(exclude_none=True, exclude={"status"}).items():
        setattr(partner, name, value)
    await session.flush()
    return partner


# Products and prices


async def list_products(session: AsyncSession) -> Sequence[ProductRow]:
    return (await session.scalars(select(ProductRow).order_by(ProductRow.name))).all()


async def get_product(session: AsyncSession, product_id: str) -> ProductRow:
    return await _get(session, ProductRow, product_id, "product")


def _product_fields(data: ProductCreate | ProductUpdate) -> dict[str, object]:
    fields = data.model_dump(exclude_none=True)
    renames = {"erp_item": "erp_ref", "billing_product": "billing_ref"}
    return {renames.get(name, name): value for name, value in fields.items()}


async def create_product(session: AsyncSession, *, data: ProductCreate) -> ProductRow:
    row = ProductRow(id=new_id("product"), **_product_fields(data))
    session.add(row)
    await session.flush()
    return row


async def update_product(
    session: AsyncSession, product_id: str, *, data: ProductUpdate, if_match: str | None
) -> ProductRow:
    product = await get_product(session, product_id)
    check_if_match(if_match, product.version, "product")
    for name, value in _product_fields(data).items():
        setattr(product, name, value)
    await session.flush()
    return product


async def list_prices(session: AsyncSession, product_id: str) -> Sequence[PriceRow]:
    await get_product(session, product_id)
    rows = await session.scalars(
        select(PriceRow).where(PriceRow.product_id == product_id).order_by(PriceRow.id)
    )
    return rows.all()


async def get_price(session: AsyncSession, price_id: str) -> PriceRow:
    return await _get(session, PriceRow, price_id, "price")


async def create_price(session: AsyncSession, product_id: str, *, data: PriceCreate) -> PriceRow:
    await get_product(session, product_id)
    row = PriceRow(
        id=new_id("price"),
        product_id=product_id,
        currency=data.currency,
        unit_amount=data.unit_amount,
        interval=data.interval,
        billing_ref=data.billing_price,
        active=True,
        **(data.metering.columns() if data.metering else {}),
    )
    session.add(row)
    await session.flush()
    return row


async def update_price(
    session: AsyncSession, price_id: str, *, data: PriceUpdate, if_match: str | None
) -> PriceRow:
    price = await get_price(session, price_id)
    check_if_match(if_match, price.version, "price")
    if data.active is not None:
        price.active = data.active
    if data.billing_price is not None:
        price.billing_ref = data.billing_price
    await session.flush()
    return price
