"""Security headers on every answer; CORS only for configured origins (OWASP API8)."""

from tests.conftest import Gateway, GatewayFactory


async def test_every_answer_carries_the_security_headers(gateway: Gateway) -> None:
    for response in (
        await gateway.client.get("/v1/legal-entities"),
        await gateway.anonymous.get("/v1/legal-entities"),
        await gateway.anonymous.get("/nowhere"),
    ):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["content-security-policy"].startswith("default-src 'none'")
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["referrer-policy"] == "no-referrer"


async def test_hsts_is_sent_only_in_production(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway()
    assert "strict-transport-security" not in (await gateway.anonymous.get("/healthz")).headers


async def test_no_cross_origin_access_unless_configured(gateway: Gateway) -> None:
    response = await gateway.anonymous.options(
        "/v1/legal-entities",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in response.headers


async def test_configured_origins_are_allowed(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway(cors_origins=["https://portal.example"])
    allowed = await gateway.anonymous.options(
        "/v1/legal-entities",
        headers={"Origin": "https://portal.example", "Access-Control-Request-Method": "GET"},
    )
    assert allowed.headers["access-control-allow-origin"] == "https://portal.example"
    refused = await gateway.anonymous.options(
        "/v1/legal-entities",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in refused.headers
