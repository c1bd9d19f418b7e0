"""What the Business Central adapter's own work costs per posting, counted."""

from system_apis.erp.adapters.business_central_base import odata_query
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
