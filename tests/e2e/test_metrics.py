"""`/metrics`: Prometheus text with route templates as labels."""

from core.settings import Settings
from tests.conftest import Gateway, GatewayFactory
from tests.support.invoices import invoice_body


async def test_requests_are_counted_by_route_template(gateway: Gateway) -> None:
    created = await gateway.client.post("/v1/invoices", json=invoice_body())
    await gateway.client.get(f"/v1/invoices/{created.json()['id']}")
    await gateway.anonymous.get("/v1/legal-entities")
    text = (await gateway.anonymous.get("/metrics")).text
    assert (
        'ledgergate_http_requests_total{client="test-platform",method="GET",'
        'route="/v1/invoices/{invoice_id}",status="200"}'
    ) in text
    assert created.json()["id"] not in text  # raw paths never become labels
    assert 'ledgergate_auth_failures_total{reason="missing_token"}' in text
    assert "ledgergate_http_request_duration_seconds_bucket" in text


async def test_production_metrics_need_the_metrics_scope(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway(metrics_scope_required=True)
    anonymous = await gateway.anonymous.get("/metrics")
    assert anonymous.status_code == 401
    assert "ledgergate_http_requests_total" not in anonymous.text
    platform = await gateway.client.get("/metrics")
    assert platform.status_code == 403
    assert platform.json()["missing_scopes"] == ["metrics:read"]
    scraper = await gateway.client_with(["metrics:read"], client_id="prometheus")
    scraped = await scraper.get("/metrics")
    assert scraped.status_code == 200
    assert "ledgergate_http_requests_total" in scraped.text


def test_metrics_need_the_scope_by_default_in_production_only() -> None:
    assert not Settings(_env_file=None).metrics_need_scope  # type: ignore[call-arg]
    production = Settings.model_construct(environment="production", metrics_scope_required=None)
    assert production.metrics_need_scope


async def test_an_unexpected_failure_is_counted_as_the_500_it_answers(gateway: Gateway) -> None:
    """Requests are counted where the correlation id and the last-resort 500 are given."""

    @gateway.app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("unexpected")

    assert (await gateway.client.get("/boom")).status_code == 500
    text = (await gateway.anonymous.get("/metrics")).text
    assert (
        'ledgergate_http_requests_total{client="anonymous",method="GET",route="/boom",status="500"}'
    ) in text
    assert 'ledgergate_http_request_duration_seconds_count{method="GET",route="/boom"}' in text
