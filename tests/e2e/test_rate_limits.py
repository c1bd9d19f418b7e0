"""Rate limits (OWASP API4, unrestricted resource consumption)."""

import os
import uuid

import pytest
import redis.asyncio as aioredis
from redis.exceptions import RedisError
from sqlalchemy import select
from starlette.requests import Request

from app.governance.rate_limit import client_ip
from core.errors import PROBLEM_BASE_URI
from core.models.audit_event import AuditEventRow
from core.settings import Settings
from tests.conftest import GatewayFactory
from tests.support.production import PRODUCTION
from tests.support.redis_trips import redis_round_trips
from tests.support.services import service_missing

TIGHT = {
    "tiers": {
        "standard": {"read": "3/minute", "write": "2/minute", "system": "1/minute"},
        "premium": {"read": "6/minute", "write": "4/minute", "system": "2/minute"},
        "internal": {"read": "100/minute", "write": "100/minute", "system": "100/minute"},
    },
    "token": "2/minute",
    "anonymous": "2/minute",
    "webhooks": "2/minute",
}
REDIS_URL = os.environ.get("LEDGERGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def test_a_client_over_its_limit_gets_a_429_problem(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway(rate_limits=TIGHT)
    responses = [await gateway.client.get("/v1/legal-entities") for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    for index, response in enumerate(responses):
        assert response.headers["ratelimit-policy"] == '"standard-read";q=3;w=60'
        assert response.headers["ratelimit"].startswith(f'"standard-read";r={max(0, 2 - index)};t=')
    refused = responses[-1]
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == PROBLEM_BASE_URI + "rate-limited"
    assert int(refused.headers["retry-after"]) >= 1


async def test_reads_and_writes_have_separate_budgets(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway(rate_limits=TIGHT)
    for _ in range(3):
        assert (await gateway.client.get("/v1/legal-entities")).status_code == 200
    response = await gateway.client.post("/v1/customers", json={})
    assert response.status_code == 422  # counted against the write budget, not refused
    assert response.headers["ratelimit-policy"].startswith('"standard-write"')


async def test_a_premium_client_gets_its_tiers_limit(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway(rate_limits=TIGHT)
    async with gateway.sessionmaker() as session:
        from app.governance.auth.clients import create_client
        from core.models.api_client import ApiClientRow

        await create_client(
            session,
            name="p",
            scopes=["legal_entities:read"],
            tier="premium",
            client_id="premium-one",
        )
        await session.commit()
        assert await session.get(ApiClientRow, "premium-one") is not None
    premium = await gateway.client_with(["legal_entities:read"], client_id="premium-one")
    statuses = [(await premium.get("/v1/legal-entities")).status_code for _ in range(8)]
    # Six a minute, not the standard tier's three; of the next two at least one is refused
    # wherever a minute boundary falls (see the token endpoint's test below).
    assert statuses[:6] == [200] * 6
    assert 429 in statuses[6:]
    await premium.aclose()


async def test_the_token_endpoint_is_limited_per_ip(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway(rate_limits=TIGHT)
    statuses = [
        (
            await gateway.anonymous.post("/oauth/token", data={"grant_type": "client_credentials"})
        ).status_code
        for _ in range(4)
    ]
    # Two a minute: the first two pass, and of four at least one is refused wherever a minute
    # boundary falls (the sliding-window counter weighs the minute before, rounded down, so
    # one request across the boundary can pass over the limit).
    assert 429 not in statuses[:2]
    assert 429 in statuses[2:]


async def test_an_address_failing_authentication_is_refused_before_its_token_is_checked(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway(rate_limits={"failed_auth": "3/minute"})
    verified: list[str] = []
    verify = gateway.app.state.auth.authenticator.verifier.verify

    async def counting_verify(token: str) -> object:
        verified.append(token)
        return await verify(token)

    gateway.app.state.auth.authenticator.verifier.verify = counting_verify
    bad = {"Authorization": "Bearer not-a-token"}
    answers = [await gateway.anonymous.post("/v1/invoices", json={}, headers=bad) for _ in range(5)]
    valid = await gateway.client.get("/v1/legal-entities")

    assert [a.status_code for a in answers] == [401, 401, 401, 429, 429]
    assert answers[-1].json()["type"] == PROBLEM_BASE_URI + "rate-limited"
    assert answers[-1].json()["policy"] == "failed-auth"
    assert int(answers[-1].headers["retry-after"]) >= 1
    assert len(verified) == 3  # refused ones cost no verification
    assert (
        valid.status_code == 429
    )  # the address is refused, whatever it sends, until the window frees
    await gateway.app.state.auth_failures.flush(finished_only=False)
    async with gateway.sessionmaker() as session:
        rows = (await session.scalars(select(AuditEventRow))).all()
    assert [(row.action, row.count) for row in rows] == [("authentication", 6)]


async def test_a_known_token_from_a_failing_address_is_refused_and_not_counted(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway(rate_limits={**TIGHT, "failed_auth": "2/minute"})
    assert (await gateway.client.get("/v1/legal-entities")).status_code == 200  # verified
    bad = {"Authorization": "Bearer not-a-token"}
    for _ in range(2):
        assert (await gateway.anonymous.get("/v1/invoices", headers=bad)).status_code == 401
    refused = await gateway.client.get("/v1/legal-entities")
    assert refused.status_code == 429
    assert refused.json()["policy"] == "failed-auth"
    assert "ratelimit" not in refused.headers
    limiter = gateway.app.state.rate_limiter
    item = limiter._item(TIGHT["tiers"]["standard"]["read"])  # type: ignore[index]
    _, stats = await limiter.strategy.count(item, "standard-read", "test-platform", cost=0)
    assert stats.remaining == 2  # only the first read was counted


async def test_a_request_with_a_token_verified_before_is_one_redis_round_trip(
    make_gateway: GatewayFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    try:
        await aioredis.from_url(REDIS_URL).ping()
    except (OSError, RedisError) as error:
        service_missing("Redis", f"{REDIS_URL}: {error}")
    gateway = await make_gateway(rate_limit_storage_url=REDIS_URL, rate_limits=TIGHT)
    client = await gateway.client_with(
        ["legal_entities:read"], client_id=f"trips-{uuid.uuid4().hex[:8]}"
    )
    assert (await client.get("/v1/legal-entities")).status_code == 200  # the token is verified
    sent = redis_round_trips(monkeypatch)
    response = await client.get("/v1/legal-entities")
    assert response.status_code == 200
    assert response.headers["ratelimit"].startswith('"standard-read";r=1;t=')
    assert sent == ["EVALSHA"]  # the address's failures looked at and the read counted at once
    await client.aclose()


async def test_webhook_deliveries_are_limited_per_ip_before_verification(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway(rate_limits=TIGHT)
    forged = [
        await gateway.anonymous.post(
            "/webhooks/billing/stripe", json={"id": "evt_x"}, headers={"Stripe-Signature": "t=1"}
        )
        for _ in range(3)
    ]
    assert [r.status_code for r in forged] == [400, 400, 429]
    assert forged[-1].json()["type"] == PROBLEM_BASE_URI + "rate-limited"
    assert forged[-1].headers["ratelimit-policy"] == '"webhooks";q=2;w=60'


def request_from(peer: str, forwarded: str | None = None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return Request(
        {
            "type": "http",
            "client": (peer, 1234),
            "headers": headers,
            "method": "GET",
            "path": "/",
            "query_string": b"",
        }
    )


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        ("203.0.113.9", "198.51.100.1", [], "203.0.113.9"),  # untrusted peer: header ignored
        ("10.0.0.5", "198.51.100.1", ["10.0.0.0/8"], "198.51.100.1"),
        ("10.0.0.5", "6.6.6.6, 198.51.100.1, 10.0.0.7", ["10.0.0.0/8"], "198.51.100.1"),
        ("10.0.0.5", "not-an-ip", ["10.0.0.0/8"], "not-an-ip"),
        ("10.0.0.5", None, ["10.0.0.0/8"], "10.0.0.5"),
    ],
)
def test_forwarded_for_is_believed_only_from_trusted_proxies(
    peer: str, forwarded: str | None, trusted: list[str], expected: str
) -> None:
    assert client_ip(request_from(peer, forwarded).scope, trusted) == expected


async def test_limits_hold_across_two_instances_sharing_redis(make_gateway: GatewayFactory) -> None:
    try:
        await aioredis.from_url(REDIS_URL).ping()
    except (OSError, RedisError) as error:
        service_missing("Redis", f"{REDIS_URL}: {error}")
    shared = {"rate_limit_storage_url": REDIS_URL, "rate_limits": TIGHT}
    first = await make_gateway(**shared)
    second = await make_gateway(**shared)
    client_id = f"shared-{uuid.uuid4().hex[:8]}"
    a = await first.client_with(["legal_entities:read"], client_id=client_id)
    b = await second.client_with(["legal_entities:read"], client_id=client_id)
    statuses = [(await (a if i % 2 else b).get("/v1/legal-entities")).status_code for i in range(4)]
    assert statuses == [200, 200, 200, 429]
    await a.aclose()
    await b.aclose()


@pytest.mark.parametrize(("mode", "expected"), [("open", 200), (None, 200), ("closed", 503)])
async def test_an_unreachable_counter_store_fails_open_or_closed_by_setting(
    make_gateway: GatewayFactory, mode: str | None, expected: int
) -> None:
    gateway = await make_gateway(
        rate_limit_storage_url="redis://127.0.0.1:1/0",
        rate_limit_failure_mode=mode,
        rate_limits=TIGHT,
    )
    responses = [await gateway.client.get("/v1/legal-entities") for _ in range(5)]
    assert [r.status_code for r in responses] == [expected] * 5
    if expected == 503:
        assert responses[0].json()["type"] == PROBLEM_BASE_URI + "rate-limiter-unavailable"
        assert responses[0].headers["retry-after"] == "2"


def test_the_limiter_fails_closed_by_default_in_production_only() -> None:
    production = Settings(_env_file=None, **PRODUCTION)  # type: ignore[arg-type]
    assert production.rate_limits_fail_open is False
    assert Settings(environment="development").rate_limits_fail_open is True
