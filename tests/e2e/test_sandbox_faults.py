"""`/_sandbox/{backend}/faults`: each in-process sandbox's fault injection, at run time."""

import httpx
import pytest

from app.main import create_app
from core.settings import Settings
from sandboxes.faults import FaultConfig
from tests.conftest import Gateway
from tests.support.databases import postgres_database
from tests.support.production import PRODUCTION
from tests.support.sandbox_processes import UNREACHABLE_URLS


async def test_each_in_process_sandbox_takes_its_own_faults_at_run_time(gateway: Gateway) -> None:
    faults = gateway.backends.faults
    configured = await gateway.anonymous.post(
        "/_sandbox/billing/faults", json={"error_rate": 1.0, "seed": 3}
    )
    assert configured.status_code == 200, configured.text
    assert configured.json()["config"]["error_rate"] == 1.0
    assert (faults["billing"].config.error_rate, faults["erp"].config.error_rate) == (1.0, 0.0)

    internal = await gateway.client_with(["system:billing"], client_id="internal")
    refused = await internal.get("/system/billing/v1/customers/cus_unknown")
    assert refused.status_code == 503  # billing fails every request now; the ERP does not
    erp = (await gateway.anonymous.get("/_sandbox/erp/faults")).json()
    assert erp["injected"] == {}
    billing = (await gateway.anonymous.get("/_sandbox/billing/faults")).json()
    assert billing["injected"]["error"] >= 1

    cleared = await gateway.anonymous.delete("/_sandbox/billing/faults")
    assert cleared.status_code == 200
    assert faults["billing"].config == FaultConfig()


async def test_an_invalid_configuration_is_refused(gateway: Gateway) -> None:
    answer = await gateway.anonymous.post("/_sandbox/erp/faults", json={"error_rate": 2})
    assert answer.status_code == 422
    assert gateway.backends.faults["erp"].config == FaultConfig()


@pytest.mark.postgres  # production refuses SQLite
async def test_a_production_gateway_on_real_backends_exposes_no_fault_control() -> None:
    backends = {
        name.removeprefix("LEDGERGATE_").split("__")[0].lower(): url
        for name, url in UNREACHABLE_URLS.items()
    }
    async with postgres_database() as database_url:
        settings = Settings(
            _env_file=None,
            **{
                **PRODUCTION,
                "database_url": database_url,
                # Rate limits off, so the test needs no Redis: what matters is the routes.
                "rate_limit_storage_url": "memory://",
                "rate_limits": {"enabled": False},
                **{
                    name: {**PRODUCTION[name], "url": url.replace("http://", "https://", 1)}
                    for name, url in backends.items()
                },
            },
        )  # type: ignore[arg-type]
        app = create_app(settings)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
            ) as http,
        ):
            answer = await http.post("/_sandbox/erp/faults", json={"error_rate": 1.0})
        assert answer.status_code == 404
        assert answer.json()["type"].endswith("/not-found")
