"""How many documents Business Central's `$batch` requests of bulk postings carry. Where BC
counts a batch as one request: as many as a batch takes. Where it counts the operations: the
most whose batches (two operations a document, and a read of the posted documents after
each) post the most documents a window of the bulk share takes, with a little left to
the connection's other requests (a probe among two half-window batches cost one of them
every window)."""

from __future__ import annotations

import httpx
import pytest

from core.settings import BackendSettings, BatchCounting, ErpLimits
from system_apis.budget import ErpBudget
from system_apis.budget_database import DatabaseBudgetStore
from system_apis.erp.adapters.business_central import BusinessCentralAdapter
from system_apis.http import ResilientClient


def adapter(window_limit: int, counted_as: BatchCounting = "operations") -> BusinessCentralAdapter:
    limits = ErpLimits(
        requests_per_window=window_limit,
        window_seconds=6,
        max_concurrent_requests=5,
        operations_per_batch=100,
        batch_counted_as=counted_as,
    )
    budget = ErpBudget(
        "erp",
        limits,
        DatabaseBudgetStore(),  # never asked: a size takes no slot
        wait_seconds=30,
        lease_seconds=60,
        interactive_reserve=0.1,
    )
    client = ResilientClient(
        backend="erp",
        base_url="http://backend.test",
        settings=BackendSettings(),
        transport=httpx.MockTransport(lambda _: httpx.Response(500)),
        budget=budget,
    )
    return BusinessCentralAdapter(client)


@pytest.mark.parametrize(
    ("window_limit", "documents"),
    [
        (120, 17),  # bulk share 108: three batches of 34 operations and a read, 3 left
        (6000, 48),  # bulk share 5,400: 55 batches of 96 operations and two reads
        (30, 11),  # bulk share 27: one batch of 22 operations and a read
    ],
)
async def test_batches_fill_the_bulk_share_and_leave_room_for_other_requests(
    window_limit: int, documents: int
) -> None:
    assert await adapter(window_limit).bulk_invoices_per_request("company") == documents


@pytest.mark.parametrize("window_limit", [120, 6000, 30])
async def test_batches_counted_as_one_request_carry_all_a_batch_takes(window_limit: int) -> None:
    sized = adapter(window_limit, counted_as="request")
    assert await sized.bulk_invoices_per_request("company") == 50  # 100 operations
