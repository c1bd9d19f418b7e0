"""The G/L account an invoice line is booked to when posted: a line with a service period
(the lines revenue recognition draws up a schedule for) to its deferred revenue account,
per legal entity and product, so the month's recognition journal only moves what each
month earned; any other line to the ERP's own revenue account for its item."""

from __future__ import annotations

from core.models.invoice import InvoiceLineRow, InvoiceRow
from core.settings import RevenueSettings
from process_apis.revenue_accounts import deferred_account


def defer_served_lines(
    invoice: InvoiceRow, legal_entity_code: str, settings: RevenueSettings
) -> list[InvoiceLineRow]:
    """Give each line with a service period its deferred account, once: a later posting
    run (a retry, a posting again after a reversal) books the account the first one chose,
    which the line's revenue schedule and its corrections book too. Returns the lines given one."""
    deferred = [
        line
        for line in invoice.lines
        if line.service_period_start is not None and line.deferred_account is None
    ]
    for line in deferred:
        line.deferred_account = deferred_account(settings, legal_entity_code, line.product_id)
    return deferred
