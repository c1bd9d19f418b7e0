"""What the edge costs a governed request, in counts rather than time."""

from typing import Any

import fastapi.dependencies.utils
import pytest

from tests.conftest import Gateway


async def test_a_governed_read_hops_to_no_worker_thread(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FastAPI runs a plain function dependency on a worker thread: none of a read's may be."""
    hops: list[str] = []
    run_in_threadpool = fastapi.dependencies.utils.run_in_threadpool

    async def recording(function: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(getattr(function, "__qualname__", repr(function)))
        return await run_in_threadpool(function, *args, **kwargs)

    monkeypatch.setattr(fastapi.dependencies.utils, "run_in_threadpool", recording)
    response = await gateway.client.get("/v1/invoices/inv_01jd0000000000000000000000")
    assert response.status_code == 404  # every dependency solved, then the lookup
    assert hops == []
