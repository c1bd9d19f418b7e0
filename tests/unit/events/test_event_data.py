"""An event's data read off a mapped row: each attribute once, what it holds without the
ORM's instrumentation, the payload as before."""

from datetime import date

from core.models.invoice import InvoiceRow
from events.schemas.invoice import InvoicePosted
from tests.support.python_calls import python_calls


def invoice() -> InvoiceRow:
    return InvoiceRow(
        id="inv_1",
        customer_id="cus_1",
        legal_entity_id="le_1",
        currency="USD",
        total=5335,
        status="posted",
        erp_document_number="SI-1",
        posting_date=date(2026, 12, 7),
    )


def test_the_data_reads_each_attribute_of_the_row_once() -> None:
    row = invoice()
    with python_calls() as called:
        data = InvoicePosted.of(row, run_id="run_1", status="posting_mismatch")

    reads = [call for call in called if call.endswith("sqlalchemy/orm/attributes.py:__get__")]
    # The schema's fields the row has, but `run_id` and `status` given: 8, those it holds
    # read from its `__dict__`, only `posted_at` (never set on it) through the ORM's
    # instrumentation (8 when each was, 16 when by `hasattr`, then again).
    assert len(reads) == 1
    assert data.model_dump(mode="json") == {
        "id": "inv_1",
        "customer_id": "cus_1",
        "legal_entity_id": "le_1",
        "currency": "USD",
        "total": 5335,
        "status": "posting_mismatch",
        "erp_document_number": "SI-1",
        "posting_date": "2026-12-07",
        "posted_at": None,
        "run_id": "run_1",
    }
