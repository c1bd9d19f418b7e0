"""The worker's metrics: gauges read from the database, schedule checks, its own /metrics."""

from __future__ import annotations

from datetime import date

import httpx
from prometheus_client import REGISTRY

from app.governance.worker_metrics import serve_worker_metrics
from app.seed import demo_id
from core.settings import Settings
from process_apis.gauges import OperationsGauges
from process_apis.worker import BackgroundWork, replayer
from tests.conftest import GatewayFactory
from tests.support.console import gateway_with_erp_switch, queued_posting
from tests.support.sandbox_processes import free_port

US = demo_id("legal_entity", 1)
QUEUED = {"workflow": "invoice_posting", "error_class": "transient"}


def sample(name: str, labels: dict[str, str]) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


async def test_gauges_follow_the_queue_reconciliation_and_webhook_endpoints(
    make_gateway: GatewayFactory,
) -> None:
    gateway, erp = await gateway_with_erp_switch(
        make_gateway, webhooks={"allow_private_addresses": True}
    )
    _, run_id = await queued_posting(gateway, erp, "gauges-1")
    ops = await gateway.client_with(["ops:read"], client_id="gauges-ops")
    period = date.today().strftime("%Y-%m")
    report = await ops.get("/ops/v1/reconciliation", params={"period": period, "legal_entity": US})
    assert report.status_code == 200, report.text
    created = await gateway.client.post(
        "/v1/webhook-endpoints", json={"url": "http://127.0.0.1:9/x", "event_types": []}
    )
    assert created.status_code == 201, created.text
    gauges = OperationsGauges(gateway.sessionmaker)

    await gauges.refresh()

    assert sample("ledgergate_exception_queue_depth", QUEUED) == 1
    assert (sample("ledgergate_exception_queue_oldest_age_seconds", QUEUED) or -1) >= 0
    assert (
        sample("ledgergate_reconciliation_differences", {"legal_entity": US, "period": period})
        == (report.json()["difference_count"])
    )
    assert sample("ledgergate_webhook_endpoints", {"status": "enabled"}) == 1
    assert sample("ledgergate_webhook_endpoints", {"status": "disabled"}) == 0

    await replayer(gateway.app.state.process).replay(run_id)
    await gauges.refresh()
    assert sample("ledgergate_exception_queue_depth", QUEUED) is None  # gone, not stale
    await ops.aclose()


async def test_each_schedule_check_is_counted(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway()
    before = {
        name: sample("ledgergate_schedule_runs_total", {"schedule": name, "outcome": "ok"}) or 0
        for name in ("settlement", "dunning", "reconciliation")
    }
    work = BackgroundWork(gateway.app.state.process)
    try:
        await work.run_once()
    finally:
        await work.aclose()
    for name, count in before.items():
        labels = {"schedule": name, "outcome": "ok"}
        assert sample("ledgergate_schedule_runs_total", labels) == count + 1


def test_the_worker_serves_its_metrics_on_its_port() -> None:
    settings = Settings(_env_file=None, worker_metrics_port=free_port())  # type: ignore[call-arg]
    server = serve_worker_metrics(settings)
    assert server is not None
    try:
        answer = httpx.get(f"http://127.0.0.1:{settings.worker_metrics_port}/metrics")
    finally:
        server.shutdown()
        server.server_close()
    assert answer.status_code == 200
    for name in (
        "ledgergate_exception_queue_depth",
        "ledgergate_outbox_lag_seconds",
        "ledgergate_erp_budget_in_use",
        "ledgergate_schedule_runs_total",
    ):
        assert f"# TYPE {name.removesuffix('_total')}" in answer.text, name
    off = Settings(_env_file=None, worker_metrics_port=0)  # type: ignore[call-arg]
    assert serve_worker_metrics(off) is None


def test_a_taken_port_leaves_the_worker_running_without_metrics() -> None:
    settings = Settings(_env_file=None, worker_metrics_port=free_port())  # type: ignore[call-arg]
    first = serve_worker_metrics(settings)
    assert first is not None
    try:
        assert serve_worker_metrics(settings) is None
    finally:
        first.shutdown()
        first.server_close()
