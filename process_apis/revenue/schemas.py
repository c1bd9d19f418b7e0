"""Request and response bodies of revenue recognition."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import Field

from core.canonical.base import InputModel, OutputModel
from core.ids import id_pattern
from core.models.revenue import RecognitionMethod, RecognitionRunStatus
from process_apis.runs.schemas import RunSummary

Period = Annotated[
    str,
    Field(
        pattern=r"^[1-9][0-9]{3}-(0[1-9]|1[0-2])$",
        description="A calendar month, `YYYY-MM`.",
        examples=["2026-11"],
    ),
]
LegalEntityId = Annotated[
    str,
    Field(pattern=id_pattern("legal_entity"), examples=["le_01jd0000000000000000000000"]),
]


class RecognitionRunCreate(InputModel):
    legal_entity_id: LegalEntityId
    period: Period = Field(
        description="The month to recognize, once it has ended: every schedule entry of the "
        "legal entity up to it not recognized yet; one journal per currency."
    )


class RecognitionReversalCreate(InputModel):
    reason: str = Field(min_length=1, max_length=500, examples=["Wrong deferral account"])


class RecognitionRunLine(OutputModel):
    deferred_account: str
    revenue_account: str
    deferred: int = Field(
        description="Billed (or credited, negative) to revenue and moved into deferred revenue "
        "by the journal; what invoices posted to deferred revenue themselves is not moved."
    )
    recognized: int = Field(description="Moved from deferred revenue to revenue.")


class RecognitionRun(OutputModel):
    id: str
    version: int
    legal_entity_id: str
    currency: str
    period_start: date
    period_end: date
    attempt: int = Field(description="1, then one more per run of the period after a reversal.")
    status: RecognitionRunStatus
    deferred_total: int
    recognized_total: int
    entry_count: int
    journal_document_number: str | None
    posting_date: date | None
    posted_at: datetime | None
    reversal_document_number: str | None
    reversal_posting_date: date | None
    reversal_reason: str | None
    reversed_at: datetime | None
    lines: list[RecognitionRunLine]
    last_run: RunSummary | None
    run_url: str | None


class RecognitionRunResult(OutputModel):
    legal_entity_id: str
    period: str
    drawn_up: int = Field(description="How many recognition runs this request drew up.")
    runs: list[RecognitionRun]


class ScheduleAdjustment(OutputModel):
    id: str
    source_type: str = Field(examples=["credit_memo"])
    source_id: str
    amount: int = Field(description="Negative: revenue taken back.")
    effective_on: date
    replanned_from: date = Field(description="The first month whose revenue it changed.")


class ScheduleMonth(OutputModel):
    month: str = Field(examples=["2026-11"])
    amount: int = Field(description="What the schedule earns in the month, adjustments included.")
    recognized: int = Field(description="The part a posted recognition run has journaled.")


class RevenueSchedule(OutputModel):
    id: str
    invoice_id: str
    invoice_line_id: str
    product_id: str | None
    method: RecognitionMethod
    service_period_start: date
    service_period_end: date
    currency: str
    amount: int = Field(description="The line's net amount, as billed.")
    billed: int = Field(description="`amount` and every adjustment.")
    recognized: int = Field(description="Journaled as revenue by posted recognition runs.")
    deferred: int = Field(description="`billed` − `recognized`.")
    deferred_account: str
    revenue_account: str
    adjustments: list[ScheduleAdjustment]
    months: list[ScheduleMonth]


class InvoiceRevenueSchedule(OutputModel):
    invoice_id: str
    schedules: list[RevenueSchedule]


class WaterfallMonth(OutputModel):
    month: str = Field(examples=["2026-11"])
    currency: str
    billed: int = Field(description="Deferred in the month: billings less credits.")
    recognized: int = Field(description="Earned in the month by the schedules.")
    deferred: int = Field(description="Deferred revenue at the month's end.")


class Waterfall(OutputModel):
    legal_entity_id: str
    from_month: str = Field(examples=["2026-01"])
    to_month: str = Field(examples=["2026-12"])
    months: list[WaterfallMonth]


class ProofCurrency(OutputModel):
    currency: str
    billed: int = Field(description="Billed less credits by the period's end.")
    recognized: int = Field(description="What the schedules earn up to the period's end.")
    deferred: int = Field(description="What the schedules still earn after the period.")
    unbalanced_schedules: int = Field(
        description="Schedules whose billed is not recognized + deferred (0: the proof holds)."
    )
    journaled_deferred: int = Field(
        description="Deferred revenue as the invoices and corrections posted to it and the "
        "recognition journals and their reversals, dated by the period's end, left it."
    )
    erp_deferred: int | None = Field(
        description="The ERP's balance of the deferred revenue accounts (credit positive) at "
        "the period's end; none for a currency the legal entity does not keep its books in."
    )
    matched: bool | None = Field(description="Whether the ERP's balance is the journaled one.")


class RevenueProof(OutputModel):
    legal_entity_id: str
    period: str
    currencies: list[ProofCurrency]
    schedules_url: str = Field(
        description="Each schedule's figures for the period: the drill-down."
    )


class ScheduleBalance(OutputModel):
    schedule_id: str
    invoice_id: str
    currency: str
    billed: int
    recognized: int
    deferred: int
    balanced: bool = Field(description="billed = recognized + deferred.")


class ScheduleBalances(OutputModel):
    items: list[ScheduleBalance]
    next_cursor: str | None


class RevenueRuleSet(InputModel):
    method: RecognitionMethod = Field(
        description="`ratable_daily` (the default without a rule): over the service period's "
        "days; `point_in_time`: all in the month the service period starts."
    )


class RevenueRule(OutputModel):
    product_id: str
    method: RecognitionMethod
    version: int
