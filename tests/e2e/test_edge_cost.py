"""What the edge costs a governed request, in counts rather than time."""

import sys
from typing import Any

import fastapi.dependencies.utils
import fastapi.routing
import pytest
from starlette.datastructures import Headers
from starlette.requests import Request

from app.governance import uploads
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


def recording_dependencies(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The dependency nodes FastAPI solves (the endpoint's own included), by name."""
    solved: list[str] = []
    solve = fastapi.dependencies.utils.solve_dependencies

    async def recording(*args: Any, **kwargs: Any) -> Any:
        call = kwargs["dependant"].call
        solved.append(getattr(call, "__name__", type(call).__name__))
        return await solve(*args, **kwargs)

    monkeypatch.setattr(fastapi.dependencies.utils, "solve_dependencies", recording)
    monkeypatch.setattr(fastapi.routing, "solve_dependencies", recording)
    return solved


async def test_a_governed_read_solves_only_its_session_as_a_dependency(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The edge's checks (repeated parameters, media type, token, scope, rate limit) run
    as one step before FastAPI's dependencies (`app/governance/governed_routes.py`)."""
    solved = recording_dependencies(monkeypatch)
    response = await gateway.client.get("/v1/invoices/inv_01jd0000000000000000000000")
    assert response.status_code == 404
    assert "RateLimit" in response.headers  # counted all the same
    assert solved == ["get_invoice", "get_session"]


async def test_a_planned_route_takes_its_buffered_body_without_a_receive(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    received: list[bytes] = []
    replay = uploads.Replay.__call__

    async def recording(self: uploads.Replay) -> Any:
        message = await replay(self)
        received.append(message.get("body", b""))
        return message

    monkeypatch.setattr(uploads.Replay, "__call__", recording)
    response = await gateway.client.post(
        "/v1/invoices", json={}, headers={"Idempotency-Key": "taken-body"}
    )
    assert response.status_code == 422  # the body read, parsed and refused
    assert received == []


async def test_a_governed_request_keeps_its_state_without_starlette_s_state_object(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[str] = []
    state = Request.state

    def recording(request: Request) -> Any:
        built.append(request.url.path)
        return state.fget(request)  # type: ignore[attr-defined]

    monkeypatch.setattr(Request, "state", property(recording))
    response = await gateway.client.get("/v1/invoices", params={"date_from": "2026-01-01"})
    assert response.status_code == 200  # authorized, counted, its caller known
    assert response.headers["RateLimit"]  # the limiter's headers, stashed in the state
    assert built == []


async def test_a_governed_write_reads_its_headers_without_starlette_s_headers(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Accept, Authorization, Content-Length and Content-Type are read from the raw headers
    (`raw_headers.header`), not looked up in a `Headers` (two Python calls and three C calls
    each): only the route's declared header parameter (Idempotency-Key) builds one."""
    looked_up: list[str] = []
    lookup = Headers.__getitem__

    def recording(headers: Headers, key: str) -> str:
        looked_up.append(key.lower())
        return lookup(headers, key)

    monkeypatch.setattr(Headers, "__getitem__", recording)
    response = await gateway.client.post(
        "/v1/invoices", json={}, headers={"Idempotency-Key": "raw-headers"}
    )
    assert response.status_code == 422  # authorized, its body read and refused
    assert [key for key in looked_up if key != "idempotency-key"] == []


async def test_the_upload_layer_finds_the_caller_s_address_without_a_request(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`client_ip` reads the scope: the layer that counts each address's uploads builds no
    `Request` (three Python calls) to learn it."""
    builders: list[str] = []
    build = Request.__init__

    def recording(request: Request, *args: Any, **kwargs: Any) -> None:
        builders.append(sys._getframe(1).f_code.co_filename.rsplit("/", 1)[-1])
        build(request, *args, **kwargs)

    monkeypatch.setattr(Request, "__init__", recording)
    response = await gateway.client.post(
        "/v1/invoices", json={}, headers={"Idempotency-Key": "upload-address"}
    )
    assert response.status_code == 422  # its body buffered, then refused
    assert builders
    assert "uploads.py" not in builders
