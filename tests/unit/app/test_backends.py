"""The composition root builds real backends without loading a sandbox, and names the
backends that would run as a sandbox private to the process."""

import subprocess
import sys

from app.backends import budget_store, build_backends, private_sandboxes
from core.settings import VENDOR_LIMITS, ErpLimits, Settings
from system_apis.budget import BillingBudget
from system_apis.budget_database import DatabaseBudgetStore
from system_apis.budget_redis import RedisBudgetStore
from tests.support.sandbox_processes import REPO_ROOT, UNREACHABLE_URLS

NO_SANDBOX_LOADED = """
import asyncio, sys
from app.backends import build_backends
from app.main import create_app
from core.settings import Settings

settings = Settings(environment="test", seed_demo_data=False)
backends = build_backends(settings)
app = create_app(settings, backends=backends)
backends.deliver_billing_events(app, secret="whsec_test")  # as the lifespan starts
asyncio.run(backends.aclose())
loaded = sorted(name for name in sys.modules if name.split(".")[0] == "sandboxes")
assert not loaded, loaded
"""


def test_a_gateway_with_every_backend_url_loads_no_sandbox() -> None:
    env = {"PATH": "", **UNREACHABLE_URLS}
    completed = subprocess.run(
        [sys.executable, "-c", NO_SANDBOX_LOADED],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]


def test_the_backends_without_a_url_are_private_sandboxes() -> None:
    settings = Settings(environment="test", erp={"url": "http://erp.example/api/v1.0"})  # type: ignore[arg-type]
    assert private_sandboxes(settings) == ["billing", "crm", "support"]


async def test_each_erp_connection_takes_its_limits_into_one_shared_budget_store() -> None:
    settings = Settings(
        environment="test",
        erp_connections={"emea": {"kind": "netsuite", "max_concurrent_requests": 3}},  # type: ignore[dict-item]
    )
    backends = build_backends(settings)
    try:
        default = backends.clients["erp"].budget
        emea = backends.clients["erp-emea"].budget
        assert default is not None
        assert emea is not None
        assert default.limits == VENDOR_LIMITS["business_central"]
        assert emea.limits == VENDOR_LIMITS["netsuite"].model_copy(
            update={"max_concurrent_requests": 3}
        )
        assert default.store is emea.store is backends.budget_store
        assert isinstance(backends.budget_store, DatabaseBudgetStore)
        assert backends.clients["billing"].budget is None
    finally:
        await backends.aclose()


async def test_the_budget_is_shared_in_redis_when_the_rate_limiter_counts_there() -> None:
    store = budget_store(Settings(rate_limit_storage_url="async+redis://127.0.0.1:6379/0"))
    assert isinstance(store, RedisBudgetStore)
    await store.aclose()


async def test_billing_takes_stripes_published_limits_for_its_key_as_two_shared_budgets() -> None:
    """Stripe counts reads and writes apart: 100 a second each live, 25 in test mode."""
    live = Settings(
        environment="test",
        billing={"url": "https://api.stripe.com", "api_key": "sk_live_x", "max_connections": 20},  # type: ignore[arg-type]
    )
    backends = build_backends(live)
    try:
        client = backends.clients["billing"]
        assert client.budget is not None
        assert client.write_budget is not None
        assert (client.budget.backend, client.write_budget.backend) == (
            "billing-read",
            "billing-write",
        )
        assert client.budget.limits == ErpLimits(
            requests_per_window=100, window_seconds=1.0, max_concurrent_requests=20
        )
        assert client.budget.store is client.write_budget.store is backends.budget_store
        assert isinstance(client.budget, BillingBudget)  # billing's own problem types
        assert isinstance(client.write_budget, BillingBudget)
    finally:
        await backends.aclose()
    test = Settings(environment="test", billing={"write_requests_per_second": 5})  # type: ignore[arg-type]
    assert test.billing.limits(write=True).requests_per_window == 5
    assert test.billing.limits(write=False).requests_per_window == 25
    assert not test.billing.budgeted  # the in-process sandbox counts no limit
