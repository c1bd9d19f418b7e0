"""The development demo estate: legal entities with a closed prior period, partners,
products and prices, a few customers and demo API clients with published secrets,
so the README's tour works as pasted. Seeded in development only, unless asked for."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.governance.auth.clients import create_client
from core.canonical.catalog import BillingInterval
from core.canonical.parties import CustomerStatus, PartnerStatus, PeriodStatus
from core.ids import PREFIXES, new_id
from core.models import (
    AccountingPeriodRow,
    ApiClientRow,
    Base,
    CustomerRow,
    LegalEntityRow,
    PartnerRow,
    PriceRow,
    ProductRow,
)
from core.models.api_client import ClientStatus
from core.scopes import DEFAULT_CLIENT_SCOPES, PARTNER_SCOPES, SYSTEM_SCOPES
from core.settings import DEFAULT_ERP_CONNECTION, DEMO_NETSUITE_CONNECTION, Settings
from process_apis.customers.service import default_erp_number

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
    from sandboxes.demo_estate import first_open_day  # the sandboxes' estate: demo data only

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


def demo_netsuite_connection(settings: Settings) -> str | None:
    """The connection the demo estate's NetSuite company books on, when one is configured:
    `netsuite`, the development default (the built-in NetSuite sandbox)."""
    erp = settings.erp_connection_settings.get(DEMO_NETSUITE_CONNECTION)
    return DEMO_NETSUITE_CONNECTION if erp is not None and erp.kind == "netsuite" else None


def _demo_catalog() -> tuple[list[Base], list[Base]]:
    """The demo products, each named by its ERP item, and their monthly prices."""
    from sandboxes.demo_estate import DEMO_CATALOG  # the sandboxes' estate: demo data only

    parents: list[Base] = []
    children: list[Base] = []
    for number, product in enumerate(DEMO_CATALOG, start=1):
        product_id = demo_id("product", number)
        parents.append(
            ProductRow(
                id=product_id,
                name=product.name,
                tier=product.tier,
                tax_code="STANDARD",
                erp_ref=product.item_number,
            )
        )
        for offset, (currency, amount) in enumerate(product.monthly_prices.items(), start=1):
            children.append(
                PriceRow(
                    id=demo_id("price", number * 10 + offset),
                    product_id=product_id,
                    currency=currency,
                    unit_amount=amount,
                    interval=BillingInterval.MONTH,
                )
            )
    return parents, children


def _demo_rows(netsuite_connection: str | None = None) -> tuple[list[Base], list[Base]]:
    """The demo estate as two layers of rows: parents, then the rows that refer to them."""
    # the sandboxes' estate: demo data only
    from sandboxes.demo_estate import DEMO_COMPANIES, netsuite_subsidiary_id

    parents: list[Base] = []
    children: list[Base] = []
    entity_ids = {}
    for number, company in enumerate(DEMO_COMPANIES, start=1):
        entity_id = demo_id("legal_entity", number)
        entity_ids[company.currency] = entity_id
        on_netsuite = netsuite_connection is not None and company.erp_kind == "netsuite"
        parents.append(
            LegalEntityRow(
                id=entity_id,
                code=company.code,
                name=company.name,
                country=company.country,
                functional_currency=company.currency,
                closed_period_policy=company.closed_period_policy,
                erp_connection=netsuite_connection if on_netsuite else DEFAULT_ERP_CONNECTION,
                erp_company_id=netsuite_subsidiary_id(company) if on_netsuite else company.id,
            )
        )
        children.extend(monthly_periods(entity_id))
    partners = (("Northwind Resellers", "reseller-20"), ("Fabrikam Referrals", "referral-10"))
    for number, (name, plan) in enumerate(partners, start=1):
        parents.append(
            PartnerRow(
                id=demo_id("partner", number),
                name=name,
                status=PartnerStatus.ACTIVE,
                commission_plan=plan,
            )
        )
    products, prices = _demo_catalog()
    parents.extend(products)
    children.extend(prices)
    customers = (
        ("Acme Robotics Inc.", "billing@acme.example", "USD", 1),
        ("Globex Corporation", "ap@globex.example", "USD", None),
        ("Initech GmbH", "rechnung@initech.example", "EUR", 2),
    )
    for number, (name, email, currency, partner) in enumerate(customers, start=1):
        customer_id = demo_id("customer", number)
        children.append(
            CustomerRow(
                id=customer_id,
                name=name,
                email=email,
                legal_entity_id=entity_ids[currency],
                currency=currency,
                partner_id=demo_id("partner", partner) if partner else None,
                status=CustomerStatus.ACTIVE,
                erp_number=default_erp_number(customer_id),
            )
        )
    return parents, children


async def seed_demo_estate(
    sessionmaker: async_sessionmaker[AsyncSession], *, netsuite_connection: str | None = None
) -> bool:
    """Create the demo estate once; returns False when it is already there.

    With a `netsuite_connection` (see `demo_netsuite_connection`), the demo's NetSuite
    company books there; otherwise every company books in the default connection.
    """
    async with sessionmaker() as session:
        if await session.scalar(select(LegalEntityRow.id).limit(1)) is not None:
            return False
        for layer in _demo_rows(netsuite_connection):
            session.add_all(layer)
            await session.flush()  # parents first: the unit of work orders by relationships
        await session.commit()
    logger.info("seed.demo_estate.created")
    return True


@dataclass(frozen=True)
class DemoClient:
    client_id: str
    secret: str
    scopes: frozenset[str]
    partner: int | None = None


DEMO_CLIENTS = (
    DemoClient("demo-platform", "demo-platform-secret", DEFAULT_CLIENT_SCOPES),
    DemoClient(
        "demo-finance-ops",
        "demo-finance-ops-secret",
        frozenset(
            {
                "ops:read",
                "ops:write",
                "audit:read",
                "runs:read",
                "invoices:read",
                "credit_memos:approve",
                "payments:reverse",
                "settlements:read",
                "legal_entities:read",
                "refdata:read",
                "refdata:write",
            }
        ),
    ),
    DemoClient("demo-partner", "demo-partner-secret", PARTNER_SCOPES, partner=1),
    DemoClient("demo-internal", "demo-internal-secret", SYSTEM_SCOPES),
)


async def seed_demo_clients(sessionmaker: async_sessionmaker[AsyncSession]) -> list[DemoClient]:
    """Create the demo API clients that are missing (development only: the secrets are public)."""
    created = []
    async with sessionmaker() as session:
        for demo in DEMO_CLIENTS:
            if await session.get(ApiClientRow, demo.client_id) is not None:
                continue
            await create_client(
                session,
                name=demo.client_id,
                scopes=demo.scopes,
                client_id=demo.client_id,
                secret=demo.secret,
                partner_id=demo_id("partner", demo.partner) if demo.partner else None,
                tier="internal" if demo.scopes & SYSTEM_SCOPES else "standard",
            )
            created.append(demo)
        await session.commit()
    for demo in created:
        logger.info("seed.demo_client.created", extra={"client_id": demo.client_id})
    return created


async def disable_demo_clients(sessionmaker: async_sessionmaker[AsyncSession]) -> list[str]:
    """Outside development, disable any demo client a database still has: its secret is public."""
    async with sessionmaker() as session:
        found = await session.scalars(
            select(ApiClientRow).where(
                ApiClientRow.id.in_([demo.client_id for demo in DEMO_CLIENTS]),
                ApiClientRow.status == ClientStatus.ACTIVE,
            )
        )
        disabled = []
        for client in found:
            client.status = ClientStatus.DISABLED
            disabled.append(client.id)
        await session.commit()
    for client_id in disabled:
        logger.warning("seed.demo_client.disabled", extra={"client_id": client_id})
    return disabled
