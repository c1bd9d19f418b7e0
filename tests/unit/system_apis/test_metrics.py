"""Backend metrics in the default registry: latency by outcome, retries, failures by class."""

import httpx
import pytest
from prometheus_client import REGISTRY
from pydantic import BaseModel

from core.settings import BackendSettings
from system_apis.errors import (
    BackendAuthError,
    BackendBusinessError,
    BackendContractError,
    BackendTransientError,
)
from system_apis.http import ResilientClient, parse_body


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def client_answering(backend: str, answers: list[httpx.Response]) -> ResilientClient:
    return ResilientClient(
        backend=backend,
        base_url="http://backend.test",
        settings=BackendSettings(
            retry_attempts=3, retry_initial_backoff_seconds=0, retry_max_backoff_seconds=0
        ),
        transport=httpx.MockTransport(lambda _request: answers.pop(0)),
    )


async def test_a_request_is_timed_once_with_its_outcome_and_its_retries_counted() -> None:
    client = client_answering("metrics-ok", [httpx.Response(503), httpx.Response(200)])
    await client.request("GET", "/x", operation="get_x")
    labels = {"backend": "metrics-ok", "operation": "get_x"}
    assert sample("ledgergate_backend_request_seconds_count", **labels, outcome="ok") == 1
    assert sample("ledgergate_backend_request_seconds_sum", **labels, outcome="ok") > 0
    assert sample("ledgergate_backend_retries_total", **labels) == 1
    assert (
        sample(
            "ledgergate_backend_failures_total",
            **labels,
            error_class="transient",
            error="backend-unavailable",
        )
        == 0
    )  # the caller got an answer: the retried attempt is a retry, not a failure


@pytest.mark.parametrize(
    ("status", "error", "error_class", "slug"),
    [
        (503, BackendTransientError, "transient", "backend-unavailable"),
        (409, BackendBusinessError, "business", "backend-rejected"),
        (401, BackendAuthError, "auth", "backend-auth-failed"),
        (302, BackendContractError, "contract", "backend-contract-violation"),
    ],
)
async def test_failures_are_counted_by_error_class(
    status: int, error: type[Exception], error_class: str, slug: str
) -> None:
    backend = f"metrics-{error_class}"
    client = client_answering(backend, [httpx.Response(status)] * 3)
    with pytest.raises(error):
        await client.request("GET", "/x", operation="get_x")
    labels = {"backend": backend, "operation": "get_x"}
    assert sample("ledgergate_backend_request_seconds_count", **labels, outcome=error_class) == 1
    assert (
        sample("ledgergate_backend_failures_total", **labels, error_class=error_class, error=slug)
        == 1
    )


class Thing(BaseModel):
    id: str


def test_a_body_outside_the_contract_is_counted_as_a_contract_failure() -> None:
    labels = {
        "backend": "metrics-body",
        "operation": "get_thing",
        "error_class": "contract",
        "error": "backend-contract-violation",
    }
    before = sample("ledgergate_backend_failures_total", **labels)
    with pytest.raises(BackendContractError):
        parse_body(
            httpx.Response(200, content=b"[]"), Thing, backend="metrics-body", operation="get_thing"
        )
    assert sample("ledgergate_backend_failures_total", **labels) == before + 1
