"""`/metrics`: Prometheus text with route templates as labels."""

from tests.conftest import Gateway
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
