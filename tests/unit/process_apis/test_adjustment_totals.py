"""What billing charged for an amendment's proration, as its ERP document must book it."""

from __future__ import annotations

from datetime import UTC, date, datetime

from process_apis.subscriptions.workflow.adjustment_totals import Charged
from system_apis.billing.schemas import ProrationPreview
from system_apis.erp.schemas import ErpDocumentStatus, ErpSalesCreditMemo

AT = datetime(2026, 12, 1, tzinfo=UTC)


def preview(total: int, tax: int) -> ProrationPreview:
    return ProrationPreview(
        subscription_id="sub_1",
        currency="USD",
        proration_date=AT,
        period_start=AT,
        period_end=AT,
        lines=(),
        total=total,
        tax=tax,
        next_invoice_total=0,
    )


def memo(subtotal: int, tax: int) -> ErpSalesCreditMemo:
    return ErpSalesCreditMemo(
        id="cm_1",
        number=None,
        external_document_number="run_1",
        customer_number="C1",
        currency="USD",
        posting_date=date(2026, 12, 1),
        status=ErpDocumentStatus.DRAFT,
        applies_to_invoice_id=None,
        applies_to_invoice_number=None,
        line_count=1,
        total_excluding_tax=subtotal,
        total_tax=tax,
        total_including_tax=subtotal + tax,
    )


def test_a_net_credit_is_booked_unsigned_with_the_tax_billing_credits() -> None:
    assert Charged.of(preview(-4900, -435)) == Charged(subtotal=4900, tax_total=435, total=5335)


def test_an_untaxed_proration_takes_the_untaxed_group_when_there_is_one() -> None:
    untaxed, taxed = Charged.of(preview(7500, 0)), Charged.of(preview(7500, 666))
    assert untaxed.tax_code("STANDARD", "EXEMPT") == "EXEMPT"
    assert untaxed.tax_code("STANDARD", None) == "STANDARD"
    assert taxed.tax_code("STANDARD", "EXEMPT") == "STANDARD"


def test_the_erp_document_must_book_billing_totals_within_the_tolerance() -> None:
    charged = Charged.of(preview(-4900, -435))

    assert charged.mismatch(memo(4900, 435), amendment_id="run_1", tolerance=0) is None
    assert charged.mismatch(memo(4900, 436), amendment_id="run_1", tolerance=1) is None
    problem = charged.mismatch(memo(4900, 436), amendment_id="run_1", tolerance=0)
    assert problem is not None
    assert (problem.extensions["billing"]["tax_total"], problem.extensions["erp"]["tax_total"]) == (
        435,
        436,
    )
