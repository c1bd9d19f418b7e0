"""The `erp` fixture: each port-level scenario runs on every ERP adapter over its sandbox."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.system_apis.erp.harness import ERPS, Erp


@pytest.fixture(params=ERPS.values(), ids=ERPS.keys())
def erp(request: pytest.FixtureRequest) -> Erp:
    factory: Callable[[], Erp] = request.param
    return factory()
