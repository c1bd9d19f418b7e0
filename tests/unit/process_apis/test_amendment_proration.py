"""An amendment's ERP adjustment as the revenue schedules read it: signed, over the days
billing's proration lines serve."""

from __future__ import annotations

from datetime import UTC, date, datetime

from process_apis.subscriptions.schemas import ErpAdjustment, ErpAdjustmentKind
from process_apis.subscriptions.workflow.proration import proration_row, served_days
from system_apis.billing.schemas import ProrationLine, ProrationPreview

PERIOD = (datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 12, 20, tzinfo=UTC))
AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def preview(*lines: tuple[int, datetime]) -> ProrationPreview:
    return ProrationPreview(
        subscription_id="sub_1",
        currency="USD",
        proration_date=AT,
        period_start=PERIOD[0],
        period_end=PERIOD[1],
        lines=tuple(
            ProrationLine(
                description=None,
                amount=amount,
                quantity=1,
                price_id=None,
                subscription_item_id=None,
                period_start=start,
                period_end=PERIOD[1],
            )
            for amount, start in lines
        ),
        total=sum(amount for amount, _ in lines),
        next_invoice_total=0,
    )


def adjustment(kind: ErpAdjustmentKind, amount: int) -> ErpAdjustment:
    return ErpAdjustment(
        kind=kind,
        document_id="doc-1",
        document_number="PS-1",
        external_document_number="run_1",
        posting_date=date(2026, 12, 1),
        currency="USD",
        amount=amount,
        total_including_tax=amount,
    )


def test_the_proration_serves_its_lines_days_up_to_the_day_before_the_period_ends() -> None:
    quoted = preview((-1000, AT), (3000, AT))
    assert served_days(quoted) == (date(2026, 12, 1), date(2026, 12, 19))
    # without lines: from the proration date to the period's last day
    assert served_days(preview()) == (date(2026, 12, 1), date(2026, 12, 19))


def test_a_credit_memo_takes_revenue_back_and_a_sales_invoice_adds_it() -> None:
    quoted = preview((-3000, AT), (1000, AT))
    memo = proration_row("run_1", "sub_1", quoted, adjustment(ErpAdjustmentKind.CREDIT_MEMO, 2000))
    charge = proration_row(
        "run_2", "sub_1", quoted, adjustment(ErpAdjustmentKind.SALES_INVOICE, 2000)
    )
    assert (memo.amount, charge.amount) == (-2000, 2000)
    assert (memo.service_start, memo.service_end, memo.posting_date) == (
        date(2026, 12, 1),
        date(2026, 12, 19),
        date(2026, 12, 1),
    )
    assert memo.erp_document_number == "PS-1"
