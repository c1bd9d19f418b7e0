"""Fault injection in the sandboxes: each fault, its control endpoint, its reproducibility."""

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from sandboxes import business_central, stripe
from sandboxes.faults import FAULTS_ENV, FAULTS_PATH, FaultConfig, config_from_env
from system_apis.http import InProcessTransport
from tests.support.stripe_sandbox import sandbox_http


@dataclass
class Sandbox:
    state: stripe.StripeState
    http: httpx.AsyncClient

    async def faults(self, **config: object) -> dict[str, object]:
        response = await self.http.post(FAULTS_PATH, json=config)
        assert response.status_code == 200, response.text
        report: dict[str, object] = response.json()
        return report

    async def create_customer(self) -> httpx.Response:
        return await self.http.post("/v1/customers", data={"name": "Acme Ltd"})


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    state = stripe.StripeState()
    transport = InProcessTransport(app=stripe.create_app(state))
    async with sandbox_http(transport) as http:
        http.timeout = httpx.Timeout(0.1)
        yield Sandbox(state, http)


async def test_no_faults_are_injected_by_default(sandbox: Sandbox) -> None:
    assert (await sandbox.create_customer()).status_code == 200
    report = (await sandbox.http.get(FAULTS_PATH)).json()
    assert report["config"] == FaultConfig().model_dump(mode="json")
    assert (report["requests"], report["injected"]) == (1, {})


async def test_a_5xx_is_answered_without_handling_the_request(sandbox: Sandbox) -> None:
    await sandbox.faults(error_rate=1, error_statuses=[502])
    assert (await sandbox.create_customer()).status_code == 502
    assert sandbox.state.customers == {}


async def test_a_throttle_says_when_to_come_back(sandbox: Sandbox) -> None:
    await sandbox.faults(throttle_rate=1, retry_after_seconds=7)
    response = await sandbox.create_customer()
    assert (response.status_code, response.headers["Retry-After"]) == (429, "7")
    assert sandbox.state.customers == {}


async def test_a_timeout_holds_the_answer_of_a_handled_request(sandbox: Sandbox) -> None:
    await sandbox.faults(timeout_rate=1, timeout_seconds=5)
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        await sandbox.create_customer()
    assert time.monotonic() - started < 1
    assert len(sandbox.state.customers) == 1  # the write happened; its answer was lost


async def test_a_dropped_connection_is_a_transport_error_after_the_write(
    sandbox: Sandbox,
) -> None:
    await sandbox.faults(drop_rate=1)
    with pytest.raises(httpx.TransportError):
        await sandbox.create_customer()
    assert len(sandbox.state.customers) == 1


async def test_a_malformed_answer_is_a_200_with_garbage(sandbox: Sandbox) -> None:
    await sandbox.faults(malformed_rate=1, seed=3)
    bodies = [await sandbox.create_customer() for _ in range(10)]
    assert {response.status_code for response in bodies} == {200}
    assert not any(b'"object"' in response.content for response in bodies)
    assert len(sandbox.state.customers) == 10


async def test_latency_is_added_before_a_normal_answer(sandbox: Sandbox) -> None:
    await sandbox.faults(latency_rate=1, latency_seconds=0.05)
    started = time.monotonic()
    assert (await sandbox.create_customer()).status_code == 200
    assert time.monotonic() - started >= 0.05


async def test_a_seed_replays_the_same_faults(sandbox: Sandbox) -> None:
    async def run() -> list[int]:
        await sandbox.faults(seed=42, error_rate=0.3, throttle_rate=0.2)
        return [(await sandbox.http.get("/v1/customers")).status_code for _ in range(40)]

    first, second = await run(), await run()
    assert first == second
    assert {200, 429} <= set(first)
    assert set(first) - {200, 429}  # and some 5xx
    report = (await sandbox.http.get(FAULTS_PATH)).json()
    assert report["requests"] == 40
    assert report["injected"]["error"] == sum(s >= 500 for s in second)
    assert report["injected"]["throttle"] == second.count(429)


async def test_delete_switches_the_faults_off(sandbox: Sandbox) -> None:
    await sandbox.faults(error_rate=1)
    response = await sandbox.http.delete(FAULTS_PATH)
    assert response.json()["config"] == FaultConfig().model_dump(mode="json")
    assert (await sandbox.create_customer()).status_code == 200


@pytest.mark.parametrize(
    "config",
    [
        {"error_rate": 0.6, "timeout_rate": 0.5},
        {"error_rate": 1.5},
        {"error_statuses": [404]},
        {"drop": 0.1},
    ],
)
async def test_an_invalid_configuration_is_refused(
    sandbox: Sandbox, config: dict[str, object]
) -> None:
    response = await sandbox.http.post(FAULTS_PATH, json=config)
    assert response.status_code == 422
    assert response.json()["errors"]
    assert (await sandbox.http.get(FAULTS_PATH)).json()["config"] == FaultConfig().model_dump(
        mode="json"
    )


async def test_other_methods_on_the_control_endpoint_are_refused(sandbox: Sandbox) -> None:
    response = await sandbox.http.put(FAULTS_PATH, json={})
    assert (response.status_code, response.headers["Allow"]) == (405, "GET, POST, DELETE")


async def test_a_standalone_sandbox_takes_its_faults_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = {"error_rate": 0.25, "seed": 9}
    monkeypatch.setenv(FAULTS_ENV, json.dumps(config))
    app = business_central.create_app()
    async with httpx.AsyncClient(
        transport=InProcessTransport(app=app), base_url="http://erp.sandbox"
    ) as http:
        report = (await http.get(FAULTS_PATH)).json()
    assert report["config"] == FaultConfig(**config).model_dump(mode="json")  # type: ignore[arg-type]


def test_no_environment_means_no_faults() -> None:
    assert config_from_env("erp", {}) == FaultConfig()
    assert config_from_env("erp", {FAULTS_ENV: '{"drop_rate": 0.5}'}).drop_rate == 0.5


def test_a_backends_own_variable_overrides_the_shared_one() -> None:
    environ = {FAULTS_ENV: '{"drop_rate": 0.5}', f"{FAULTS_ENV}_BILLING": '{"error_rate": 1}'}
    billing = config_from_env("billing", environ)
    assert (billing.error_rate, billing.drop_rate) == (1, 0)
    assert config_from_env("erp", environ).drop_rate == 0.5
