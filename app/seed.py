"""The development demo estate: legal entities with a closed prior period, partners,
products and prices, and a few customers, so the README's tour works as pasted."""

from __future__ import annotations

import logging
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.canonical.catalog import BillingInterval
from app.core.canonical.parties import CustomerStatus, PartnerStatus, PeriodStatus
from app.core.ids import PREFIXES, new_id
from app.core.models import (
    AccountingPeriodRow,
    CustomerRow,
    LegalEntityRow,
    PartnerRow,
    PriceRow,
    ProductRow,
)
from process_apis.customers.service import default_erp_number
from system_apis.sandboxes.demo_estate import DEMO_COMPANIES, first_open_day

logger = logging.getLogger(__name__)

MONTHS_OF_PERIODS = 12


def demo_id(kind: str, number: int) -> str:
    """Fixed ids for the demo estate (`cus_00000000000000000000000001`), so docs can cite them."""
    return f"{PREFIXES[kind]}_{number:026d}"


def _month_start(day: date, offset: int) -> date:
    month = day.year * 12 + day.month - 1 + offset
    return date(month // 12, month % 12 + 1, 1)


def monthly_periods(
    legal_entity_id: str, *, today: date | None = None
) -> list[AccountingPeriodRow]:
    """A year of periods either side of this month; those before `first_open_day` are closed."""
    today = today or date.today()
    open_from = first_open_day(today)
    periods = []
    for offset in range(-MONTHS_OF_PERIODS, MONTHS_OF_PERIODS + 1):
        start = _month_start(today, offset)
        end = _month_start(today, offset + 1) - timedelta(days=1)
        periods.append(
            AccountingPeriodRow(
                id=new_id("accounting_period"),
                legal_entity_id=legal_entity_id,
                starts_on=start,
                ends_on=end,
                status=PeriodStatus.CLOSED if end < open_from else PeriodStatus.OPEN,
            )
        )
    return periods


async def seed_demo_estate(sessionmaker: async_sessionmaker[AsyncSession]) -> bool:
    """Create the demo estate once; returns False when it is already there."""
    async with sessionmaker() as session:
        if await session.scalar(select(LegalEntityRow.id).limit(1)) is not None:
            return False
        entities = {}
        for number, company in enumerate(DEMO_COMPANIES, start=1):
            entity = LegalEntityRow(
                id=demo_id("legal_entity", number),
                code=company.code,
                name=company.name,
                country=company.country,
                functional_currency=company.currency,
                closed_period_policy=company.closed_period_policy,
                erp_company_id=company.id,
            )
            session.add(entity)
            session.add_all(monthly_periods(entity.id))
            entities[company.currency] = entity
        partners = [
            PartnerRow(
                id=demo_id("partner", number),
                name=name,
                status=PartnerStatus.ACTIVE,
                commission_plan=plan,
            )
            for number, (name, plan) in enumerate(
                (("Northwind Resellers", "reseller-20"), ("Fabrikam Referrals", "referral-10")),
                start=1,
            )
        ]
        session.add_all(partners)
        catalog = (
            ("Ledgergate Pro", "pro", (4900, 4500)),
            ("Ledgergate Enterprise", "enterprise", (19900, 18500)),
        )
        for number, (name, tier, amounts) in enumerate(catalog, start=1):
            product = ProductRow(
                id=demo_id("product", number), name=name, tier=tier, tax_code="STANDARD"
            )
            session.add(product)
            for offset, (currency, amount) in enumerate(zip(("USD", "EUR"), amounts, strict=True)):
                session.add(
                    PriceRow(
                        id=demo_id("price", number * 10 + offset + 1),
                        product_id=product.id,
                        currency=currency,
                        unit_amount=amount,
                        interval=BillingInterval.MONTH,
                    )
                )
        customers = (
            ("Acme Robotics Inc.", "billing@acme.example", "USD", partners[0]),
            ("Globex Corporation", "ap@globex.example", "USD", None),
            ("Initech GmbH", "rechnung@initech.example", "EUR", partners[1]),
        )
        for number, (name, email, currency, partner) in enumerate(customers, start=1):
            customer_id = demo_id("customer", number)
            session.add(
                CustomerRow(
                    id=customer_id,
                    name=name,
                    email=email,
                    legal_entity_id=entities[currency].id,
                    currency=currency,
                    partner_id=partner.id if partner else None,
                    status=CustomerStatus.ACTIVE,
                    erp_number=default_erp_number(customer_id),
                )
            )
        await session.commit()
    logger.info("seed.demo_estate.created")
    return True
