"""Builds the system-API ports from settings: real endpoints, or the sandboxes in process."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from starlette.types import ASGIApp

from app.core.settings import BackendSettings, Settings
from system_apis.billing.adapters.stripe import StripeAdapter, stripe_headers
from system_apis.billing.port import BillingPort
from system_apis.erp.adapters.business_central import BusinessCentralAdapter
from system_apis.erp.port import ErpPort
from system_apis.http import InProcessTransport, ResilientClient, http_transport
from system_apis.sandboxes import business_central, stripe

ERP_SANDBOX_URL = "http://erp.sandbox/v2.0/sandbox/api/v1.0"
BILLING_SANDBOX_URL = "http://billing.sandbox"


@dataclass
class Backends:
    erp: ErpPort
    billing: BillingPort
    clients: dict[str, ResilientClient]
    erp_sandbox: business_central.BusinessCentralState | None = None
    billing_sandbox: stripe.StripeState | None = None
    probes: dict[str, str] = field(default_factory=dict)

    async def aclose(self) -> None:
        for client in self.clients.values():
            await client.aclose()


TransportWrapper = Callable[[str, httpx.AsyncBaseTransport], httpx.AsyncBaseTransport]


def build_backends(settings: Settings, *, wrap: TransportWrapper | None = None) -> Backends:
    """One resilient client per backend; a URL in settings replaces the in-process sandbox.

    `wrap` decorates each backend's transport (tests and benchmarks inject faults there).
    """

    def transport(
        name: str, backend: BackendSettings, sandbox: Callable[[], ASGIApp]
    ) -> httpx.AsyncBaseTransport:
        inner = (
            InProcessTransport(app=sandbox()) if backend.url is None else http_transport(backend)
        )
        return wrap(name, inner) if wrap else inner

    erp_state = business_central.BusinessCentralState() if settings.erp.url is None else None
    billing_state = stripe.StripeState() if settings.billing.url is None else None
    erp_client = ResilientClient(
        backend="erp",
        base_url=settings.erp.url or ERP_SANDBOX_URL,
        settings=settings.erp,
        headers={"Authorization": f"Bearer {settings.erp.access_token.get_secret_value()}"},
        transport=transport("erp", settings.erp, lambda: business_central.create_app(erp_state)),
    )
    billing_client = ResilientClient(
        backend="billing",
        base_url=settings.billing.url or BILLING_SANDBOX_URL,
        settings=settings.billing,
        headers=stripe_headers(settings.billing),
        transport=transport("billing", settings.billing, lambda: stripe.create_app(billing_state)),
    )
    return Backends(
        erp=BusinessCentralAdapter(erp_client),
        billing=StripeAdapter(billing_client),
        clients={"erp": erp_client, "billing": billing_client},
        erp_sandbox=erp_state,
        billing_sandbox=billing_state,
        probes={"erp": "companies?$top=1", "billing": "/v1/customers?limit=1"},
    )
