"""The `erp` fixture: each port-level scenario runs on every ERP adapter over its sandbox;
`bc` and `ns`: one adapter over its sandbox, which knows `CUSTOMER`."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support.business_central import US, BcHarness, bc_harness
from tests.system_apis.erp.harness import CUSTOMER, ERPS, Erp, NsHarness, netsuite_harness


@pytest.fixture(params=ERPS.values(), ids=ERPS.keys())
def erp(request: pytest.FixtureRequest) -> Erp:
    factory: Callable[[], Erp] = request.param
    return factory()


@pytest.fixture
async def bc() -> BcHarness:
    harness = bc_harness()
    await harness.adapter.upsert_customer(US.id, CUSTOMER)
    harness.recording.exchanges.clear()
    return harness


@pytest.fixture
async def ns() -> NsHarness:
    harness = netsuite_harness()
    await harness.adapter.upsert_customer(harness.us_subsidiary, CUSTOMER)
    harness.recording.exchanges.clear()
    return harness
