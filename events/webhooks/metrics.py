"""Prometheus metrics of outbound webhooks: deliveries by outcome and endpoint health."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

DELIVERIES = Counter(
    "ledgergate_webhook_deliveries_total",
    "Webhook delivery attempts by outcome (delivered, failed, gone, refused).",
    ["outcome"],
)
DELIVERY_SECONDS = Histogram(
    "ledgergate_webhook_delivery_seconds",
    "Wall time of one webhook delivery attempt.",
    ["outcome"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
ENDPOINTS_DISABLED = Counter(
    "ledgergate_webhook_endpoints_disabled_total",
    "Webhook endpoints disabled by the gateway, by reason (failing, gone).",
    ["reason"],
)
ENDPOINT_FAILURES = Gauge(
    "ledgergate_webhook_endpoint_consecutive_failures",
    "Consecutive failed delivery attempts per webhook endpoint (0 when healthy).",
    ["endpoint"],
    multiprocess_mode="max",
)
