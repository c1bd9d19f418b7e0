"""The demo estate the sandboxes and the development seed share.

Two companies (legal entities) in different currencies, each with the previous
calendar month closed for posting, the tax groups their invoices may use, and the kind
of ERP each books in: the US company in Business Central, the German one in NetSuite;
the products the gateway sells, each an item of every ERP company priced per month in
the company's currency, so that the demo's catalog reconciles clean.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class DemoCompany:
    id: str
    code: str
    name: str
    country: str
    currency: str
    closed_period_policy: str
    tax_codes: tuple[str, ...]
    erp_kind: str


DEMO_COMPANIES = (
    DemoCompany(
        id="5a1c0de0-0000-4000-8000-000000000001",
        code="LG-US",
        name="Ledgergate Demo US Inc.",
        country="US",
        currency="USD",
        closed_period_policy="reject",
        tax_codes=("STANDARD", "EXEMPT"),
        erp_kind="business_central",
    ),
    DemoCompany(
        id="5a1c0de0-0000-4000-8000-000000000002",
        code="LG-DE",
        name="Ledgergate Demo GmbH",
        country="DE",
        currency="EUR",
        closed_period_policy="roll_forward",
        tax_codes=("STANDARD", "REDUCED", "REVERSE"),
        erp_kind="netsuite",
    ),
)


def netsuite_subsidiary_id(company: DemoCompany) -> str:
    """The company's subsidiary in the NetSuite sandbox, which numbers the demo companies
    from 1 in this order."""
    return str(DEMO_COMPANIES.index(company) + 1)


@dataclass(frozen=True)
class DemoProduct:
    item_number: str
    name: str
    tier: str
    monthly_prices: dict[str, int]  # minor units by currency


DEMO_CATALOG = (
    DemoProduct("LG-PRO", "Ledgergate Pro", "pro", {"USD": 4900, "EUR": 4500}),
    DemoProduct("LG-ENT", "Ledgergate Enterprise", "enterprise", {"USD": 19900, "EUR": 18500}),
)
MONTH_UNIT = "MONTH"
"""The unit of measure the ERP items are priced per."""


def first_open_day(today: date | None = None) -> date:
    """Postings before this date fall in the closed prior period."""
    return (today or date.today()).replace(day=1)


def closed_period(today: date | None = None) -> tuple[date, date]:
    """The first and last day of the demo estate's closed period (the previous month)."""
    end = first_open_day(today) - timedelta(days=1)
    return end.replace(day=1), end
