"""The deferred revenue account a document line serving a period is booked to when it is
posted: its legal entity's and product's, its legal entity's, or the default
(`LEDGERGATE_REVENUE__ACCOUNTS`, `LEDGERGATE_REVENUE__DEFERRED_ACCOUNT`). Invoices
(`process_apis.invoices.deferral`) and amendments' ERP adjustments
(`process_apis.subscriptions.workflow.amendment`) resolve it here, so both book the
account their revenue schedule defers on and the recognition journal moves only what
each month earned."""

from __future__ import annotations

from core.settings import RevenueSettings


def deferred_account(
    settings: RevenueSettings, legal_entity_code: str, product_id: str | None
) -> str:
    return settings.accounts_for(legal_entity_code, product_id).deferred
