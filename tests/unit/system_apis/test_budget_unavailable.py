"""A shared budget store that cannot be reached: the ERP budget fails open or closed, as
the rate limiter does, and never turns the outage into an unclassified error."""

from __future__ import annotations

import pytest

from core.settings import ErpLimits
from system_apis.budget import ErpBudget, ErpBudgetUnavailable
from system_apis.budget_redis import RedisBudgetStore
from system_apis.errors import BackendTransientError

UNREACHABLE = "redis://127.0.0.1:1/0"
LIMITS = ErpLimits(requests_per_window=10, window_seconds=60, max_concurrent_requests=2)


@pytest.mark.parametrize("fail_open", [True, False])
async def test_an_unreachable_store(fail_open: bool) -> None:
    store = RedisBudgetStore(UNREACHABLE)
    budget = ErpBudget("erp", LIMITS, store, wait_seconds=1, lease_seconds=10, fail_open=fail_open)
    entered = False
    try:
        if fail_open:
            async with budget.slot(operation="op"):  # the release's failure is only logged
                entered = True
        else:
            with pytest.raises(ErpBudgetUnavailable) as refused:
                async with budget.slot(operation="op"):
                    entered = True
            assert isinstance(refused.value, BackendTransientError)  # queued, not lost
    finally:
        await store.aclose()
    assert entered is fail_open


async def test_a_429_while_the_store_is_down_still_reaches_the_caller() -> None:
    store = RedisBudgetStore(UNREACHABLE)
    budget = ErpBudget("erp", LIMITS, store, wait_seconds=1, lease_seconds=10)
    throttled = BackendTransientError("429", backend="erp", operation="op", vendor_status=429)
    try:
        with pytest.raises(BackendTransientError) as raised:
            async with budget.slot(operation="op"):
                raise throttled
    finally:
        await store.aclose()
    assert raised.value is throttled
