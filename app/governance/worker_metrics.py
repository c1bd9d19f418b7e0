"""`ledgergate worker`'s own `/metrics`: the worker has no HTTP API to carry them.

It serves the default registry: the exception queue, reconciliation differences and
webhook endpoints it reads from the database (`process_apis.gauges`), outbox lag, the ERP
budget in use and the schedule checks. None of them names an API client, so the port is
not behind a token (keep it inside the cluster network).
"""

from __future__ import annotations

import logging
from wsgiref.simple_server import WSGIServer

from prometheus_client import start_http_server

from app.governance.metrics import served_registry
from core.settings import Settings

logger = logging.getLogger(__name__)


def serve_worker_metrics(settings: Settings) -> WSGIServer | None:
    """Serve the metrics on `settings.host:worker_metrics_port` in a thread (None when 0).

    A port already taken (a second worker on one host) is logged, not fatal: the work
    matters more than its metrics.
    """
    if not settings.worker_metrics_port:
        return None
    try:
        server, _thread = start_http_server(
            settings.worker_metrics_port, addr=settings.host, registry=served_registry()
        )
    except OSError as error:
        logger.error(
            "worker.metrics.unavailable",
            extra={"port": settings.worker_metrics_port, "error": repr(error)},
        )
        return None
    logger.info(
        "worker.metrics.serving",
        extra={"host": settings.host, "port": server.server_port},
    )
    return server
