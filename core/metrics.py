"""Business metrics every tier may record (Prometheus, default registry).

The edge exposes them at `/metrics`; the process tier records workflow outcomes,
idempotent replays and the business latencies here, where the events happen.
"""

from __future__ import annotations

from functools import cache

from prometheus_client import Counter, Gauge, Histogram

WORKFLOW_RUNS = Counter(
    "ledgergate_workflow_runs_total",
    "Workflow runs by workflow and outcome (succeeded, deferred, failed).",
    ["workflow", "outcome", "error_class"],
)


@cache
def workflow_runs(workflow: str, outcome: str, error_class: str) -> Counter:
    """`WORKFLOW_RUNS`' series of one label set, looked up once (`labels` locks and checks
    every value on each call); workflows, outcomes and error classes are few and fixed."""
    return WORKFLOW_RUNS.labels(workflow, outcome, error_class)


WORKFLOW_DURATION = Histogram(
    "ledgergate_workflow_duration_seconds",
    "Wall time of one workflow attempt.",
    ["workflow", "outcome"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
IDEMPOTENT_REPLAYS = Counter(
    "ledgergate_idempotent_replays_total",
    "Requests answered from a stored Idempotency-Key response (duplicates suppressed).",
)
ORDER_TO_INVOICE = Histogram(
    "ledgergate_order_to_invoice_seconds",
    "From a subscription's order to the registration of its first invoice.",
    buckets=(1, 10, 60, 300, 900, 3600, 4 * 3600, 86400, 3 * 86400, 7 * 86400, 31 * 86400),
)
SETTLEMENT_CYCLE = Histogram(
    "ledgergate_settlement_cycle_seconds",
    "From the close of a settlement's period to its ERP journal posting (0 when posted "
    "before the period closed).",
    buckets=(0, 3600, 6 * 3600, 86400, 2 * 86400, 3 * 86400, 5 * 86400, 10 * 86400, 31 * 86400),
)
OUTBOX_LAG = Gauge(
    "ledgergate_outbox_lag_seconds",
    "Age of the oldest canonical event not yet published to every sink (0 when none waits).",
    multiprocess_mode="livemax",
)
EVENTS_PUBLISHED = Counter(
    "ledgergate_events_published_total",
    "Canonical events taken by a sink (acknowledged), by sink.",
    ["sink"],
)
EVENT_SINK_FAILURES = Counter(
    "ledgergate_event_sink_failures_total",
    "Batches a sink refused or failed to acknowledge (retried with backoff), by sink.",
    ["sink"],
)
SCHEDULE_RUNS = Counter(
    "ledgergate_schedule_runs_total",
    "Checks of a schedule by the worker (reconciliation, settlement, dunning), by outcome "
    "(ok, failed).",
    ["schedule", "outcome"],
)
# Read from the database by the worker (`process_apis.gauges`): every worker reports the
# same figures, so dashboards and alerts take their max.
QUEUE_DEPTH = Gauge(
    "ledgergate_exception_queue_depth",
    "Runs in the exception queue, by workflow and error class.",
    ["workflow", "error_class"],
    multiprocess_mode="livemax",
)
QUEUE_OLDEST_AGE = Gauge(
    "ledgergate_exception_queue_oldest_age_seconds",
    "Age of the oldest run in the exception queue, by workflow and error class.",
    ["workflow", "error_class"],
    multiprocess_mode="livemax",
)
RECONCILIATION_DIFFERENCES = Gauge(
    "ledgergate_reconciliation_differences",
    "Differences in the latest completed reconciliation of each legal entity's current and "
    "previous month.",
    ["legal_entity", "period"],
    multiprocess_mode="livemax",
)
WEBHOOK_ENDPOINTS = Gauge(
    "ledgergate_webhook_endpoints",
    "Webhook endpoints by status (enabled, disabled).",
    ["status"],
    multiprocess_mode="livemax",
)
