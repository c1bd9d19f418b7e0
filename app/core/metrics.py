"""Business metrics every tier may record (Prometheus, default registry).

The edge exposes them at `/metrics`; the process tier records workflow outcomes and
idempotent replays here.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

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
