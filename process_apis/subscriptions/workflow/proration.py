"""The record of an amendment's ERP adjustment that the revenue schedules read.

The amendment's adjustment document is the one ERP document of its proration (billing's
proration lines are never registered as gateway invoice lines, see
`process_apis.invoices.billed`), so the schedule follows that document: its net before
tax, signed (a credit memo takes revenue back), over the days billing's proration lines
serve, from the document's posting date; `deferred_account`: the deferred revenue account
the document's line was booked to (none: revenue, as amendments applied before were).
"""

from __future__ import annotations

from datetime import UTC, date, timedelta

from core.models.amendment_proration import AmendmentProrationRow
from process_apis.subscriptions.schemas import ErpAdjustment, ErpAdjustmentKind
from system_apis.billing.schemas import ProrationPreview


def proration_row(
    amendment_id: str,
    subscription_id: str,
    preview: ProrationPreview,
    adjustment: ErpAdjustment,
    *,
    deferred_account: str | None = None,
) -> AmendmentProrationRow:
    start, end = served_days(preview)
    sign = -1 if adjustment.kind == ErpAdjustmentKind.CREDIT_MEMO else 1
    return AmendmentProrationRow(
        id=amendment_id,
        subscription_id=subscription_id,
        currency=adjustment.currency,
        amount=sign * adjustment.amount,
        service_start=start,
        service_end=end,
        posting_date=adjustment.posting_date,
        erp_document_number=adjustment.document_number or adjustment.document_id,
        deferred_account=deferred_account,
        erp_document_id=adjustment.document_id,
        erp_total_including_tax=adjustment.total_including_tax,
    )


def served_days(preview: ProrationPreview) -> tuple[date, date]:
    """The first and last day (UTC) billing's proration lines serve: a period runs to the
    next period's start, so its last day is the day before; without lines, from the
    proration date to the period's end."""
    starts = [line.period_start for line in preview.lines] or [
        preview.proration_date or preview.period_start
    ]
    ends = [line.period_end for line in preview.lines] or [preview.period_end]
    first = min(starts).astimezone(UTC).date()
    last = max(ends).astimezone(UTC).date() - timedelta(days=1)
    return first, max(first, last)
