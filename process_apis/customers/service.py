"""Customer registration and reads."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.canonical.parties import CustomerCreate, CustomerStatus
from app.core.errors import BusinessRuleViolation, Conflict, NotFound
from app.core.ids import new_id
from app.core.models.customer import CustomerRow
from app.core.models.legal_entity import LegalEntityRow
from app.core.models.partner import PartnerRow


class UnknownReference(BusinessRuleViolation):
    slug = "unknown-reference"
    title = "The request refers to an object that does not exist"


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


async def get_customer(session: AsyncSession, customer_id: str) -> CustomerRow:
    customer = await session.get(CustomerRow, customer_id)
    if customer is None:
        raise NotFound(f"no customer {customer_id}")
    return customer
