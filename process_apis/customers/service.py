"""Customer registration, updates under optimistic concurrency, and reads."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.canonical.parties import CUSTOMER_STATUS, Customer, CustomerCreate, CustomerStatus
from core.errors import Conflict, NotFound, PreconditionFailed
from core.ids import new_id
from core.models.customer import CustomerRow
from core.models.dunning import DunningCaseRow, DunningStatus
from core.models.legal_entity import LegalEntityRow
from core.models.partner import PartnerRow
from core.pagination import Page
from process_apis.customers.schemas import CustomerUpdate
from process_apis.errors import UnknownReference
from process_apis.listing import ListQuery, list_rows


class DuplicateErpNumber(Conflict):
    slug = "duplicate-erp-number"
    title = "The ERP customer number is already taken"


def default_erp_number(customer_id: str) -> str:
    """`C-` and the id's last 16 characters: unique, and within the ERP's 20."""
    return "C-" + customer_id.rsplit("_", 1)[1][-16:].upper()


async def create_customer(session: AsyncSession, *, data: CustomerCreate) -> CustomerRow:
    if await session.get(LegalEntityRow, data.legal_entity_id) is None:
        raise UnknownReference(
            f"no legal entity {data.legal_entity_id}", pointer="#/legal_entity_id"
        )
    if data.partner_id is not None and await session.get(PartnerRow, data.partner_id) is None:
        raise UnknownReference(f"no partner {data.partner_id}", pointer="#/partner_id")
    customer_id = new_id("customer")
    erp_number = data.erp_number or default_erp_number(customer_id)
    if await session.scalar(select(CustomerRow.id).where(CustomerRow.erp_number == erp_number)):
        raise DuplicateErpNumber(f"ERP customer number {erp_number} belongs to another customer")
    customer = CustomerRow(
        id=customer_id,
        name=data.name,
        email=str(data.email),
        legal_entity_id=data.legal_entity_id,
        currency=data.currency,
        partner_id=data.partner_id,
        status=CustomerStatus.ACTIVE,
        erp_number=erp_number,
    )
    session.add(customer)
    await session.flush()
    return customer


def etag(version: int) -> str:
    return f'"{version}"'


def check_if_match(if_match: str | None, version: int) -> None:
    """`If-Match` with the version the caller read (`"3"`, `W/"3"` or `*`); none: no check."""
    if if_match is None:
        return
    tags = [tag.strip().removeprefix("W/").strip('"') for tag in if_match.split(",")]
    if "*" in tags or str(version) in tags:
        return
    raise PreconditionFailed(
        f"the customer is at version {version}, not {if_match}; read it again and retry",
        current_version=version,
    )


async def update_customer(
    session: AsyncSession, customer_id: str, *, data: CustomerUpdate, if_match: str | None
) -> CustomerRow:
    """Apply the fields the caller sent, if the caller saw the current version."""
    customer = await session.get(CustomerRow, customer_id, with_for_update=True)
    if customer is None:
        raise NotFound(f"no customer {customer_id}")
    check_if_match(if_match, customer.version)
    if data.name is not None:
        customer.name = data.name
    if data.email is not None:
        customer.email = str(data.email)
    if data.status is not None and data.status != customer.status:
        customer.status = CUSTOMER_STATUS.check(CustomerStatus(customer.status), data.status)
    if "partner_id" in data.model_fields_set and data.partner_id != customer.partner_id:
        if data.partner_id is not None and await session.get(PartnerRow, data.partner_id) is None:
            raise UnknownReference(f"no partner {data.partner_id}", pointer="#/partner_id")
        customer.partner_id = data.partner_id
    await session.flush()
    return customer


async def list_customers(
    session: AsyncSession,
    *,
    listing: ListQuery,
    status: CustomerStatus | None = None,
    partner_id: str | None = None,
) -> Page[Customer]:
    """A page of customers, newest first."""
    rows, cursor = await list_rows(
        session,
        select(CustomerRow),
        CustomerRow.id,
        listing,
        date_column=CustomerRow.created_at,
        updated_column=CustomerRow.updated_at,
        legal_entity_column=CustomerRow.legal_entity_id,
        equal={CustomerRow.status: status, CustomerRow.partner_id: partner_id},
    )
    return Page[Customer](items=[Customer.model_validate(row) for row in rows], next_cursor=cursor)


async def open_dunning_case(session: AsyncSession, customer_id: str) -> DunningCaseRow | None:
    """The customer's dunning case that is not closed, if any."""
    return await session.scalar(
        select(DunningCaseRow).where(
            DunningCaseRow.customer_id == customer_id,
            DunningCaseRow.status != DunningStatus.CLOSED,
        )
    )
