"""The demo clients' secrets are public: they exist in development only."""

import httpx
import pytest

from app.seed import DEMO_CLIENTS, seed_demo_clients
from core.models.api_client import ApiClientRow, ClientStatus
from core.settings import Settings
from tests.conftest import GatewayFactory
from tests.support.production import PRODUCTION


async def token(anonymous: httpx.AsyncClient, client_id: str, secret: str) -> httpx.Response:
    return await anonymous.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )


async def test_outside_development_demo_clients_are_disabled_at_start(
    make_gateway: GatewayFactory,
) -> None:
    first = await make_gateway()
    await seed_demo_clients(first.sessionmaker)  # a database seeded in development earlier
    internal = next(demo for demo in DEMO_CLIENTS if demo.client_id == "demo-internal")
    assert (await token(first.anonymous, internal.client_id, internal.secret)).status_code == 200

    gateway = await make_gateway(environment="test", seed_demo_data=True)
    refused = await token(gateway.anonymous, internal.client_id, internal.secret)
    assert refused.status_code == 401
    async with gateway.sessionmaker() as session:
        for demo in DEMO_CLIENTS:
            row = await session.get(ApiClientRow, demo.client_id)
            assert row is not None
            assert row.status == ClientStatus.DISABLED


def test_demo_clients_are_seeded_in_development_only() -> None:
    assert Settings(_env_file=None).should_seed_demo_clients  # type: ignore[call-arg]
    test = Settings(_env_file=None, environment="test", seed_demo_data=True)  # type: ignore[call-arg]
    assert test.should_seed_demo_data
    assert not test.should_seed_demo_clients


def test_production_refuses_demo_data() -> None:
    with pytest.raises(ValueError, match="refused, 1 problem:") as refused:
        Settings(_env_file=None, **PRODUCTION, seed_demo_data=True)  # type: ignore[arg-type]
    assert "LEDGERGATE_SEED_DEMO_DATA is on" in str(refused.value)
