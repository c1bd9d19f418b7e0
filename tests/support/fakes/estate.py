"""A process context on an in-memory SQLite database, wired to the port fakes.

The database is created once (`UnitDatabase`); each test empties it and seeds a small
estate (`seed`): two legal entities (USD with the `reject` closed-period policy, EUR
with `roll_forward`) whose months before the current one are closed, two products with
prices, a partner on a commission plan, and three customers. The fakes mirror it: the
ERP has the two companies and their tax rates, the CRM the partner and its plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import delete, event
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import AsyncAdaptedQueuePool

from core.canonical.catalog import BillingInterval
from core.canonical.parties import ClosedPeriodPolicy, CustomerStatus, PartnerStatus, PeriodStatus
from core.db import create_sessionmaker
from core.ids import PREFIXES, new_id
from core.models import (
    AccountingPeriodRow,
    Base,
    CustomerRow,
    LegalEntityRow,
    PartnerRow,
    PriceRow,
    ProductRow,
)
from core.settings import Settings
from process_apis.deps import ProcessContext
from system_apis.erp.schemas import ErpItem
from tests.support.fakes.billing import FakeBilling
from tests.support.fakes.crm import FakeCrm
from tests.support.fakes.erp import FakeCompany, FakeErp
from tests.support.fakes.support import FakeSupport

# One named in-memory database shared by the engine's connections (shared cache).
MEMORY_URL = "sqlite+aiosqlite:///file:process-unit?mode=memory&cache=shared&uri=true"


def fixed_id(kind: str, number: int) -> str:
    """A well-formed id of `kind` that a test can name (`cus_00…01`)."""
    return f"{PREFIXES[kind]}_{number:026d}"


US, DE = fixed_id("legal_entity", 1), fixed_id("legal_entity", 2)
US_COMPANY, DE_COMPANY = "company-us", "company-de"
PRO, ENTERPRISE = fixed_id("product", 1), fixed_id("product", 2)
PRO_USD, PRO_EUR, ENTERPRISE_USD = (fixed_id("price", n) for n in (11, 12, 21))
PARTNER, PLAN = fixed_id("partner", 1), "reseller-20"
ACME, GLOBEX, INITECH = (fixed_id("customer", n) for n in (1, 2, 3))
US_TAX_BPS = 888  # STANDARD in the US company: 4900 → 435


def _foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class UnitDatabase:
    """The in-memory database, its tables created once; `empty` deletes every row."""

    def __init__(self) -> None:
        self.engine: AsyncEngine = create_async_engine(MEMORY_URL, poolclass=AsyncAdaptedQueuePool)
        event.listen(self.engine.sync_engine, "connect", _foreign_keys)
        self.sessionmaker = create_sessionmaker(self.engine)
        self._keeper: AsyncConnection | None = None

    async def open(self) -> None:
        # The database lives while a connection to it is open: this one holds it.
        self._keeper = await self.engine.connect()
        await self._keeper.run_sync(Base.metadata.create_all)
        await self._keeper.commit()

    async def empty(self) -> None:
        async with self.engine.begin() as connection:
            for table in reversed(Base.metadata.sorted_tables):
                await connection.execute(delete(table))

    async def close(self) -> None:
        if self._keeper is not None:
            await self._keeper.close()
        await self.engine.dispose()


def month_start(day: date, offset: int = 0) -> date:
    month = day.year * 12 + day.month - 1 + offset
    return date(month // 12, month % 12 + 1, 1)


def periods(legal_entity_id: str, today: date) -> list[AccountingPeriodRow]:
    """Twelve months either side of this one; the months before this one are closed."""
    rows = []
    for offset in range(-12, 13):
        start = month_start(today, offset)
        rows.append(
            AccountingPeriodRow(
                id=new_id("accounting_period"),
                legal_entity_id=legal_entity_id,
                starts_on=start,
                ends_on=month_start(today, offset + 1) - timedelta(days=1),
                status=PeriodStatus.CLOSED if offset < 0 else PeriodStatus.OPEN,
            )
        )
    return rows


def estate_rows(today: date) -> tuple[list[Base], list[Base]]:
    """Parents, then the rows that refer to them."""
    parents: list[Base] = [
        LegalEntityRow(
            id=US,
            code="LG-US",
            name="Ledgergate US",
            country="US",
            functional_currency="USD",
            closed_period_policy=ClosedPeriodPolicy.REJECT,
            erp_company_id=US_COMPANY,
        ),
        LegalEntityRow(
            id=DE,
            code="LG-DE",
            name="Ledgergate GmbH",
            country="DE",
            functional_currency="EUR",
            closed_period_policy=ClosedPeriodPolicy.ROLL_FORWARD,
            erp_company_id=DE_COMPANY,
        ),
        PartnerRow(id=PARTNER, name="Reseller", status=PartnerStatus.ACTIVE, commission_plan=PLAN),
        ProductRow(id=PRO, name="Pro", tier="pro", tax_code="STANDARD", erp_ref="PRO"),
        ProductRow(
            id=ENTERPRISE, name="Enterprise", tier="enterprise", tax_code="STANDARD", erp_ref="ENT"
        ),
    ]
    month = BillingInterval.MONTH
    children: list[Base] = [
        *periods(US, today),
        *periods(DE, today),
        PriceRow(id=PRO_USD, product_id=PRO, currency="USD", unit_amount=4900, interval=month),
        PriceRow(id=PRO_EUR, product_id=PRO, currency="EUR", unit_amount=4500, interval=month),
        PriceRow(
            id=ENTERPRISE_USD,
            product_id=ENTERPRISE,
            currency="USD",
            unit_amount=19900,
            interval=month,
        ),
        customer(ACME, "Acme Robotics", US, "USD", partner_id=PARTNER),
        customer(GLOBEX, "Globex", US, "USD"),
        customer(INITECH, "Initech GmbH", DE, "EUR"),
    ]
    return parents, children


def customer(
    customer_id: str, name: str, legal_entity_id: str, currency: str, **values: Any
) -> CustomerRow:
    return CustomerRow(
        id=customer_id,
        name=name,
        email=f"billing@{name.split()[0].lower()}.example",
        legal_entity_id=legal_entity_id,
        currency=currency,
        status=CustomerStatus.ACTIVE,
        erp_number="C-" + customer_id[-6:],
        **values,
    )


@dataclass
class Estate:
    """The context a workflow is built with, and the fakes behind it."""

    context: ProcessContext
    erp: FakeErp
    billing: FakeBilling
    crm: FakeCrm
    support: FakeSupport
    today: date

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        return self.context.sessionmaker

    def with_settings(self, **overrides: Any) -> ProcessContext:
        """The same context (same database, same fakes) under other settings."""
        settings = unit_settings(**overrides)
        self.context = ProcessContext(
            settings=settings,
            sessionmaker=self.context.sessionmaker,
            erp=self.erp,
            billing=self.billing,
            crm=self.crm,
            support=self.support,
            today=lambda: self.today,
        )
        return self.context


def unit_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": MEMORY_URL,
        "migrate_on_start": False,
        "seed_demo_data": False,
    }
    values.update(overrides)
    return Settings(**values)


def item(number: str, name: str, monthly_price: int) -> ErpItem:
    """The ERP item a product of the estate names, priced per month as the gateway is."""
    return ErpItem(
        id=number.lower(),
        number=number,
        display_name=name,
        unit_price=monthly_price,
        blocked=False,
        base_unit_of_measure="MONTH",
    )


def fakes(today: date) -> tuple[FakeErp, FakeBilling, FakeCrm, FakeSupport]:
    us_items = [item("PRO", "Pro", 4900), item("ENT", "Enterprise", 19900)]
    erp = FakeErp(
        FakeCompany(
            US_COMPANY,
            "Ledgergate US",
            "USD",
            {"STANDARD": US_TAX_BPS, "EXEMPT": 0},
            items=us_items,
        ),
        FakeCompany(
            DE_COMPANY,
            "Ledgergate GmbH",
            "EUR",
            {"STANDARD": 1900},
            items=[item("PRO", "Pro", 4500)],
        ),
    )
    crm = FakeCrm(today=today)
    crm.add_partner(PARTNER, PLAN)
    crm.add_plan(PLAN, (date(2020, 1, 1), {"pro": 2000, "enterprise": 1500}))
    now = datetime.combine(today, time(12), UTC)
    return erp, FakeBilling(now=now), crm, FakeSupport(now=now)


async def seed(database: UnitDatabase, today: date) -> Estate:
    """Empty the database, seed the estate, and build the context on fresh fakes."""
    await database.empty()
    async with database.sessionmaker() as session:
        for layer in estate_rows(today):
            session.add_all(layer)
            await session.flush()
        await session.commit()
    erp, billing, crm, support = fakes(today)
    estate = Estate(
        context=ProcessContext(
            settings=unit_settings(),
            sessionmaker=database.sessionmaker,
            erp=erp,
            billing=billing,
            crm=crm,
            support=support,
        ),
        erp=erp,
        billing=billing,
        crm=crm,
        support=support,
        today=today,
    )
    estate.with_settings()
    return estate
