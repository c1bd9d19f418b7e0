"""Prometheus metrics of backend calls, registered in the default registry.

The edge's metrics endpoint exposes the default registry; this module only defines
and feeds the series:

- `ledgergate_backend_request_seconds{backend,operation,outcome}`: one observation
  per logical request (all its attempts and backoff waits), `outcome` being `ok` or
  the error class of the failure the caller received.
- `ledgergate_backend_retries_total{backend,operation}`: attempts repeated after a
  transient failure.
- `ledgergate_backend_failures_total{backend,operation,error_class,error}`: every
  classified failure, including bodies found outside the contract after a 2xx;
  `error` is the problem slug (`backend-timeout`, `backend-circuit-open`, ...).
- `ledgergate_backend_circuit_state{backend}`: 0 closed, 1 half-open, 2 open.
- `ledgergate_erp_budget_wait_seconds{backend,priority}`: how long a request waited
  for a slot in its ERP connection's shared budget (`system_apis.budget`).
- `ledgergate_erp_budget_throttled_total{backend}`: `429`s the ERP answered, each
  shrinking the budget and pausing the connection.
- `ledgergate_erp_budget_exhausted_total{backend}`: requests that found no slot in time.
- `ledgergate_erp_budget_in_use{backend}`: requests of this process holding a slot of
  their ERP connection's budget right now.
- `ledgergate_erp_budget_effective_limit{backend}`: the window's limit in force (the
  concurrency for a connection without a window), below the configured one after 429s.

Label values come from code (backend names, operation names, error classes and
slugs), never from requests, so the number of series stays bounded, and the series
of every request are looked up once (`.labels()` takes a lock and checks every value).
"""

from __future__ import annotations

from functools import cache

from prometheus_client import Counter, Gauge, Histogram

from system_apis.errors import BackendError

OK = "ok"

REQUEST_SECONDS = Histogram(
    "ledgergate_backend_request_seconds",
    "Time a logical backend request took, retries included, by outcome.",
    ["backend", "operation", "outcome"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
RETRIES = Counter(
    "ledgergate_backend_retries",
    "Backend attempts repeated after a transient failure.",
    ["backend", "operation"],
)
FAILURES = Counter(
    "ledgergate_backend_failures",
    "Classified backend failures.",
    ["backend", "operation", "error_class", "error"],
)
CIRCUIT_STATE = Gauge(
    "ledgergate_backend_circuit_state",
    "Circuit breaker state per backend: 0 closed, 1 half-open, 2 open.",
    ["backend"],
)


def observe_request(
    backend: str, operation: str, seconds: float, error: BackendError | None
) -> None:
    """Record one logical request's duration and outcome (and the failure, if any)."""
    outcome = OK if error is None else error.error_class.value
    _request_seconds(backend, operation, outcome).observe(seconds)
    if error is not None:
        count_failure(error)


@cache
def _request_seconds(backend: str, operation: str, outcome: str) -> Histogram:
    return REQUEST_SECONDS.labels(backend, operation, outcome)


def count_failure(error: BackendError) -> None:
    FAILURES.labels(error.backend, error.operation, error.error_class.value, error.slug).inc()


def count_retry(backend: str, operation: str) -> None:
    RETRIES.labels(backend, operation).inc()


def set_circuit_state(backend: str, value: int) -> None:
    CIRCUIT_STATE.labels(backend).set(value)


BUDGET_WAIT_SECONDS = Histogram(
    "ledgergate_erp_budget_wait_seconds",
    "Time a request waited for a slot in its ERP connection's shared budget.",
    ["backend", "priority"],
    buckets=(0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
BUDGET_THROTTLED = Counter(
    "ledgergate_erp_budget_throttled",
    "429 answers from an ERP connection, each shrinking its budget and pausing it.",
    ["backend"],
)
BUDGET_EXHAUSTED = Counter(
    "ledgergate_erp_budget_exhausted",
    "Requests that found no slot in their ERP connection's budget in time.",
    ["backend"],
)
BUDGET_IN_USE = Gauge(
    "ledgergate_erp_budget_in_use",
    "Requests holding a slot of their ERP connection's budget now (this process).",
    ["backend"],
    multiprocess_mode="livesum",
)
BUDGET_EFFECTIVE_LIMIT = Gauge(
    "ledgergate_erp_budget_effective_limit",
    "The ERP connection's limit in force: its window's (else its concurrency), after 429s.",
    ["backend"],
)


@cache
def _budget_wait_seconds(backend: str, priority: str) -> Histogram:
    return BUDGET_WAIT_SECONDS.labels(backend, priority)


def observe_budget_wait(backend: str, priority: str, seconds: float) -> None:
    _budget_wait_seconds(backend, priority).observe(seconds)


@cache
def budget_in_use(backend: str) -> Gauge:
    """The series of `BUDGET_IN_USE` for one connection."""
    return BUDGET_IN_USE.labels(backend)


def count_budget_throttle(backend: str) -> None:
    BUDGET_THROTTLED.labels(backend).inc()


def count_budget_exhausted(backend: str) -> None:
    BUDGET_EXHAUSTED.labels(backend).inc()


def set_budget_limit(backend: str, limit: int) -> None:
    BUDGET_EFFECTIVE_LIMIT.labels(backend).set(limit)
