"""The circuit breaker: when it opens, what it answers while open, how it probes and closes."""

import asyncio

import httpx
import pytest
from prometheus_client import REGISTRY

from core.settings import BackendSettings
from system_apis.circuit import BackendCircuitOpen, CircuitBreaker, CircuitState
from system_apis.errors import BackendBusinessError, BackendTransientError
from system_apis.http import ResilientClient
from tests.support.python_calls import profiled

THRESHOLD = 3
RESET = 10.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Backend:
    """A mock backend whose answer the test switches, counting what reaches it."""

    def __init__(self) -> None:
        self.status = 200
        self.calls = 0

    def __call__(self, _request: httpx.Request) -> httpx.Response:
        self.calls += 1
        return httpx.Response(self.status, json={})


def client_for(backend: Backend, clock: Clock, name: str, attempts: int = 1) -> ResilientClient:
    settings = BackendSettings(
        retry_attempts=attempts,
        retry_initial_backoff_seconds=0,
        retry_max_backoff_seconds=0,
    )
    return ResilientClient(
        backend=name,
        base_url="http://backend.test",
        settings=settings,
        transport=httpx.MockTransport(backend),
        circuit=CircuitBreaker(name, failure_threshold=THRESHOLD, reset_seconds=RESET, clock=clock),
    )


def gauge(name: str) -> float | None:
    return REGISTRY.get_sample_value("ledgergate_backend_circuit_state", {"backend": name})


async def fail(client: ResilientClient, times: int) -> None:
    for _ in range(times):
        with pytest.raises(BackendTransientError):
            await client.request("GET", "/x", operation="get_x")


async def test_consecutive_transient_failures_open_the_circuit() -> None:
    backend, clock = Backend(), Clock()
    client = client_for(backend, clock, "circuit-opens")
    backend.status = 503
    await fail(client, THRESHOLD - 1)
    assert client.circuit.state is CircuitState.CLOSED
    assert gauge("circuit-opens") == 0
    await fail(client, 1)
    assert client.circuit.state is CircuitState.OPEN
    assert gauge("circuit-opens") == 2


async def test_a_success_resets_the_count_of_consecutive_failures() -> None:
    backend, clock = Backend(), Clock()
    client = client_for(backend, clock, "circuit-resets")
    backend.status = 503
    await fail(client, THRESHOLD - 1)
    backend.status = 200
    await client.request("GET", "/x", operation="get_x")
    backend.status = 503
    await fail(client, THRESHOLD - 1)
    assert client.circuit.state is CircuitState.CLOSED


async def test_business_refusals_do_not_count_as_failures() -> None:
    backend, clock = Backend(), Clock()
    client = client_for(backend, clock, "circuit-business")
    backend.status = 422
    for _ in range(THRESHOLD * 2):
        with pytest.raises(BackendBusinessError):
            await client.request("GET", "/x", operation="get_x")
    assert client.circuit.state is CircuitState.CLOSED


async def test_an_open_circuit_answers_at_once_without_the_network() -> None:
    backend, clock = Backend(), Clock()
    client = client_for(backend, clock, "circuit-refuses")
    backend.status = 503
    await fail(client, THRESHOLD)
    calls = backend.calls
    clock.now += 4
    with pytest.raises(BackendCircuitOpen) as raised:
        await client.request("GET", "/x", operation="get_x")
    assert backend.calls == calls
    error = raised.value
    assert isinstance(error, BackendTransientError)
    assert (error.status_code, error.slug) == (503, "backend-circuit-open")
    assert error.retry_after == pytest.approx(RESET - 4)
    assert (error.backend, error.operation) == ("circuit-refuses", "get_x")
    refusals = {
        "backend": "circuit-refuses",
        "operation": "get_x",
        "error_class": "transient",
        "error": "backend-circuit-open",
    }
    assert REGISTRY.get_sample_value("ledgergate_backend_failures_total", refusals) == 1


async def test_the_refusal_is_not_retried_even_when_the_call_may_be() -> None:
    backend, clock = Backend(), Clock()
    client = client_for(backend, clock, "circuit-no-retry", attempts=5)
    backend.status = 503
    with pytest.raises(BackendCircuitOpen):
        await client.request("GET", "/x", operation="get_x")
    # the third attempt opened the circuit; the fourth was refused and ended the call
    assert backend.calls == THRESHOLD


async def test_after_the_pause_one_probe_goes_through_and_its_success_closes() -> None:
    backend, clock = Backend(), Clock()
    client = client_for(backend, clock, "circuit-probe")
    backend.status = 503
    await fail(client, THRESHOLD)
    clock.now += RESET
    assert client.circuit.state is CircuitState.HALF_OPEN
    assert gauge("circuit-probe") == 1
    backend.status = 200
    await client.request("GET", "/x", operation="get_x")
    assert client.circuit.state is CircuitState.CLOSED
    assert gauge("circuit-probe") == 0


async def test_a_failed_probe_opens_the_circuit_for_another_pause() -> None:
    backend, clock = Backend(), Clock()
    client = client_for(backend, clock, "circuit-reopens")
    backend.status = 503
    await fail(client, THRESHOLD)
    clock.now += RESET
    await fail(client, 1)
    assert client.circuit.state is CircuitState.OPEN
    clock.now += RESET - 0.1
    with pytest.raises(BackendCircuitOpen):
        await client.request("GET", "/x", operation="get_x")
    assert backend.calls == THRESHOLD + 1


async def test_while_the_probe_is_in_flight_other_calls_are_refused() -> None:
    clock = Clock()
    release = asyncio.Event()
    calls = 0

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        await release.wait()
        return httpx.Response(200, json={})

    circuit = CircuitBreaker(
        "circuit-single-probe", failure_threshold=1, reset_seconds=1, clock=clock
    )
    with pytest.raises(BackendTransientError), circuit.call("get_x"):
        raise BackendTransientError("down", backend="circuit-single-probe", operation="get_x")
    clock.now += 1
    client = ResilientClient(
        backend="circuit-single-probe",
        base_url="http://backend.test",
        settings=BackendSettings(),
        transport=httpx.MockTransport(slow),
        circuit=circuit,
    )
    probe = asyncio.create_task(client.request("GET", "/x", operation="get_x"))
    await asyncio.sleep(0)
    with pytest.raises(BackendCircuitOpen):
        await client.request("GET", "/x", operation="get_x")
    release.set()
    await probe
    assert calls == 1
    assert circuit.state is CircuitState.CLOSED


async def test_a_cancelled_probe_gives_its_place_to_the_next_call() -> None:
    clock = Clock()
    circuit = CircuitBreaker("circuit-cancelled", failure_threshold=1, reset_seconds=1, clock=clock)
    with pytest.raises(BackendTransientError), circuit.call("get_x"):
        raise BackendTransientError("down", backend="circuit-cancelled", operation="get_x")
    clock.now += 1
    with pytest.raises(asyncio.CancelledError), circuit.call("get_x"):
        raise asyncio.CancelledError
    assert circuit.state is CircuitState.HALF_OPEN
    with circuit.call("get_x"):
        pass
    assert circuit.state is CircuitState.CLOSED


async def test_outcomes_of_calls_admitted_before_the_circuit_opened_are_ignored() -> None:
    clock = Clock()
    circuit = CircuitBreaker("circuit-late", failure_threshold=1, reset_seconds=1, clock=clock)
    late = circuit.call("get_x")
    late.__enter__()
    with pytest.raises(BackendTransientError), circuit.call("get_x"):
        raise BackendTransientError("down", backend="circuit-late", operation="get_x")
    late.__exit__(None, None, None)  # a success that started before the circuit opened
    assert circuit.state is CircuitState.OPEN


def test_a_call_through_a_closed_circuit_costs_a_few_calls() -> None:
    """Every request passes the breaker twice (its check, then its call): a generator's
    context manager cost about fourteen calls, most of them `contextlib`'s."""
    circuit = CircuitBreaker("circuit-cost", failure_threshold=THRESHOLD, reset_seconds=RESET)
    with profiled() as seen:
        circuit.check("get_x")
        with circuit.call("get_x"):
            pass
    assert seen.total_calls <= 8  # 17 with a generator's context manager


def test_a_failure_through_a_closed_circuit_is_still_counted() -> None:
    circuit = CircuitBreaker("circuit-counted", failure_threshold=2, reset_seconds=RESET)
    for _ in range(2):
        with pytest.raises(BackendTransientError), circuit.call("get_x"):
            raise BackendTransientError("down", backend="circuit-counted", operation="get_x")
    assert circuit.state is CircuitState.OPEN
    with pytest.raises(BackendCircuitOpen):
        circuit.check("get_x")
