"""Business metrics every tier may record (Prometheus, default registry).

The edge exposes them at `/metrics`; the process tier records workflow outcomes,
idempotent replays and the business latencies here, where the events happen.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

WORKFLOW_RUNS = Counter(
    "ledgergate_workflow_runs_total",
    "Workflow runs by workflow and outcome (succeeded, deferred, failed).",
    ["workflow", "outcome", "error_class"],
)
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
