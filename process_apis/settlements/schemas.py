"""Request and response bodies of `/v1/settlements`."""

from __future__ import annotations

import calendar
from datetime import date, datetime
from typing import Annotated

from pydantic import Field

from core.canonical.base import InputModel, OutputModel
from core.canonical.documents import Settlement
from core.ids import id_pattern
from core.models.payment import PaymentSource
from process_apis.runs.schemas import RunSummary

Period = Annotated[
    str,
    Field(
        pattern=r"^[1-9][0-9]{3}-(0[1-9]|1[0-2])$",
        description="A calendar month, `YYYY-MM`.",
        examples=["2026-11"],
    ),
]


def period_bounds(period: str) -> tuple[date, date]:
    """The first and last day of a `YYYY-MM` month."""
    year, month = (int(part) for part in period.split("-"))
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


class SettlementRunCreate(InputModel):
    period: Period = Field(
        description="The month to settle, once it has ended: every eligible commission paid "
        "in it, and those paid late in months already settled (prior-period adjustments); "
        "one statement per partner, legal entity and currency."
    )
    legal_entity_id: Annotated[str, Field(pattern=id_pattern("legal_entity"))] | None = Field(
        default=None,
        description="Settle only this legal entity (default: every one whose month may be "
        "settled).",
        examples=["le_01jd0000000000000000000000"],
    )


class SettlementResource(Settlement):
    line_count: int | None
    adjustment_total: int = Field(
        description="The part of `total_commission` earned in earlier months already settled "
        "(a prior-period adjustment)."
    )
    clawback_total: int = Field(
        description="The part of `total_commission` (zero or negative) that claws back the "
        "month's commissions on payments reversed since; claw-backs of months already settled "
        "are in `adjustment_total`."
    )
    journal_document_number: str | None = Field(
        description="The ERP journal entry's document number (the settlement's posting key)."
    )
    posting_date: date | None
    posted_at: datetime | None
    reversal_document_number: str | None = Field(
        default=None, description="The ERP journal entry that reversed this one, once reversed."
    )
    reversed_at: datetime | None = None
    last_run: RunSummary | None = None
    run_url: str | None = None


class SettlementReversalCreate(InputModel):
    reason: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        description="Why the statement is reversed: on the run and the ERP entry's lines."
    )


class SettlementRunResult(OutputModel):
    period: str
    period_start: date
    period_end: date
    drawn_up: int = Field(description="Statements this run drew up (0 when they all existed).")
    awaiting_period_close: list[str] = Field(
        default_factory=list,
        description="Legal entities that settle only closed accounting periods and have not "
        "closed this month yet: not settled by this run.",
    )
    settlements: list[SettlementResource] = Field(description="Every statement of the period.")


class LineagePayment(OutputModel):
    id: str
    amount: int
    currency: str
    paid_on: date
    source: PaymentSource
    erp_document_number: str | None


class LineageInvoiceLine(OutputModel):
    invoice_id: str
    subscription_id: str | None = Field(
        default=None, description="The subscription the invoice bills, if it bills one."
    )
    erp_document_number: str | None
    line_id: str
    sequence: int
    description: str
    amount: int


class LineageAttribution(OutputModel):
    partner_id: str
    customer_id: str
    deal_registration_id: str | None
    eligibility_reason: str


class LineageRateCard(OutputModel):
    plan_code: str
    version: int | None
    effective_from: date | None
    product_id: str
    product_tier: str
    rate_bps: int


class LineageCommission(OutputModel):
    line_id: str
    base_amount: int
    amount: int
    currency: str
    reverses_line_id: str | None = Field(
        default=None,
        description="A claw-back (the payment was reversed): the commission line it reverses.",
    )


class LineageStatement(OutputModel):
    settlement_id: str
    journal_document_number: str | None
    prior_period_adjustment: bool = Field(
        description="Paid in an earlier month whose statement was already drawn up: settled "
        "late, in this statement, as a prior-period adjustment."
    )


class Lineage(OutputModel):
    payment: LineagePayment
    invoice_line: LineageInvoiceLine
    attribution: LineageAttribution
    rate_card: LineageRateCard
    commission: LineageCommission


class LineageEntry(Lineage):
    """payment → invoice line → attribution → rate card version → commission → statement."""

    statement: LineageStatement


class CommissionLineage(Lineage):
    """payment → invoice line → attribution → rate card version → commission → statement,
    the last once a statement holds the commission."""

    statement: LineageStatement | None
