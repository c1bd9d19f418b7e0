"""What the Business Central adapter's own work costs per posting, counted."""

from decimal import Decimal

from system_apis.erp.adapters.business_central_base import odata_query
from system_apis.erp.adapters.business_central_wire import BcSalesDocumentLine, BcSalesInvoice
from system_apis.erp.mapping import with_lines
from tests.support.python_calls import profiled


def test_a_query_asked_again_is_not_quoted_again() -> None:
    """Every posting reads its posted document with the same `$expand`: `quote` cost about
    forty calls each time."""
    assert odata_query(expand="salesInvoiceLines") == "$expand=salesInvoiceLines"
    with profiled() as seen:
        query = odata_query(filter="number eq 'C 1/2'", top="5")
        again = odata_query(filter="number eq 'C 1/2'", top="5")
    assert query == again == "$filter=number%20eq%20%27C%201%2F2%27&$top=5"
    with profiled() as seen:
        odata_query(filter="number eq 'C 1/2'", top="5")
    assert seen.total_calls <= 2  # 44 quoting it each time


def line(number: int, amount: str, tax: str) -> BcSalesDocumentLine:
    return BcSalesDocumentLine(
        id=f"line-{number}",
        document_id="draft",
        sequence=number * 10000,
        quantity=Decimal(1),
        unit_price=Decimal(amount),
        amount_excluding_tax=Decimal(amount),
        total_tax_amount=Decimal(tax),
        amount_including_tax=Decimal(amount) + Decimal(tax),
    )


def test_a_new_drafts_totals_are_its_lines_sums_added_in_one_pass() -> None:
    header = BcSalesInvoice.model_validate(
        {
            "id": "draft",
            "currencyCode": "USD",
            "status": "Draft",
            "totalAmountExcludingTax": 0,
            "totalTaxAmount": 0,
            "totalAmountIncludingTax": 0,
            "remainingAmount": 0,
            "@odata.etag": 'W/"1"',
        }
    )
    lines = [line(1, "49.00", "4.35"), line(2, "0.10", "0.01")]
    with profiled() as seen:
        draft = with_lines(header, lines)

    assert draft.sales_invoice_lines == lines
    assert (
        draft.total_amount_excluding_tax,
        draft.total_tax_amount,
        draft.total_amount_including_tax,
    ) == (Decimal("49.10"), Decimal("4.36"), Decimal("53.46"))
    assert seen.total_calls <= 24  # 32 with a generator a total, for two lines
