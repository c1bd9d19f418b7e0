"""What the edge costs a governed request, in counts rather than time."""

from typing import Any

import fastapi.dependencies.utils
import pytest

from tests.conftest import Gateway


def recording_thread_hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The dependencies FastAPI runs on a worker thread (a plain function's), by name."""
    hops: list[str] = []
    run_in_threadpool = fastapi.dependencies.utils.run_in_threadpool

    async def recording(function: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(getattr(function, "__qualname__", repr(function)))
        return await run_in_threadpool(function, *args, **kwargs)

    monkeypatch.setattr(fastapi.dependencies.utils, "run_in_threadpool", recording)
    return hops


async def test_a_governed_read_hops_to_no_worker_thread(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    hops = recording_thread_hops(monkeypatch)
    response = await gateway.client.get("/v1/invoices/inv_01jd0000000000000000000000")
    assert response.status_code == 404  # every dependency solved, then the lookup
    listed = await gateway.client.get("/v1/invoices", params={"date_from": "2026-01-01"})
    assert listed.status_code == 200
    assert hops == []


async def test_an_idempotent_write_hops_to_no_worker_thread(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    hops = recording_thread_hops(monkeypatch)
    response = await gateway.client.post(
        "/v1/invoices", json={}, headers={"Idempotency-Key": "thread-hops"}
    )
    assert response.status_code == 422  # every dependency solved, then the body refused
    assert hops == []
