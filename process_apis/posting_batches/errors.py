"""The problems of `/v1/posting-batches`."""

from __future__ import annotations

from process_apis.errors import UnknownReference


class UnknownBatchInvoice(UnknownReference):
    """An invoice the batch names does not exist (`pointer` says which)."""

    slug = "unknown-invoice"
    title = "The batch names an invoice that does not exist"
