"""Builds the system-API ports from settings: real endpoints, or the sandboxes in process.

The sandboxes are imported only when a backend has no URL: a production gateway, where
every backend has one, never loads them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx
from starlette.types import ASGIApp

from core.settings import BackendSettings, Settings
from system_apis.billing.adapters.stripe import StripeAdapter, stripe_headers
from system_apis.billing.port import BillingPort
from system_apis.crm.adapters.channel import ChannelAdapter, channel_headers
from system_apis.crm.port import CrmPort
from system_apis.erp.adapters.business_central import BusinessCentralAdapter
from system_apis.erp.port import ErpPort
from system_apis.http import InProcessTransport, ResilientClient, http_transport
from system_apis.support.adapters.desk import DeskAdapter, desk_headers
from system_apis.support.port import SupportPort

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from sandboxes.business_central import BusinessCentralState
    from sandboxes.crm import CrmState
    from sandboxes.faults import FaultInjector
    from sandboxes.stripe import StripeState
    from sandboxes.support import DeskState

ERP_SANDBOX_URL = "http://erp.sandbox/v2.0/sandbox/api/v1.0"
BILLING_SANDBOX_URL = "http://billing.sandbox"
CRM_SANDBOX_URL = "http://crm.sandbox/api/v1"
SUPPORT_SANDBOX_URL = "http://support.sandbox/desk/v2"
GATEWAY_BILLING_WEBHOOK = "http://gateway.internal/webhooks/billing/stripe"


@dataclass
class Backends:
    erp: ErpPort
    billing: BillingPort
    crm: CrmPort
    support: SupportPort
    clients: dict[str, ResilientClient]
    erp_sandbox: BusinessCentralState | None = None
    billing_sandbox: StripeState | None = None
    crm_sandbox: CrmState | None = None
    support_sandbox: DeskState | None = None
    probes: dict[str, str] = field(default_factory=dict)
    faults: dict[str, FaultInjector] = field(default_factory=dict)
    """The fault injection of each sandbox running in this process, by backend."""

    async def aclose(self) -> None:
        for client in self.clients.values():
            await client.aclose()
        if self.billing_sandbox is not None and self.billing_sandbox.webhook_tasks:
            for task in self.billing_sandbox.webhook_tasks:
                task.cancel()
            await asyncio.gather(*self.billing_sandbox.webhook_tasks, return_exceptions=True)

    def deliver_billing_events(self, gateway: ASGIApp, *, secret: str) -> None:
        """Have the in-process billing sandbox send its signed events to the gateway's
        webhook, as Stripe would, so billing-driven workflows run on their own."""
        from sandboxes.stripe import WebhookEndpoint

        if self.billing_sandbox is None:
            return
        self.billing_sandbox.webhook_tasks = set()
        self.billing_sandbox.webhook_endpoints.append(
            WebhookEndpoint(url=GATEWAY_BILLING_WEBHOOK, secret=secret, app=gateway)
        )


TransportWrapper = Callable[[str, httpx.AsyncBaseTransport], httpx.AsyncBaseTransport]


def private_sandboxes(settings: Settings) -> list[str]:
    """The backends that would run as a sandbox inside this process (no URL configured).

    Such a sandbox is private: another process (a worker, a second gateway process)
    would get its own, empty one, and post into an ERP nobody else sees.
    """
    backends = {
        "erp": settings.erp,
        "billing": settings.billing,
        "crm": settings.crm,
        "support": settings.support,
    }
    return [name for name, backend in backends.items() if backend.url is None]


def build_backends(settings: Settings, *, wrap: TransportWrapper | None = None) -> Backends:
    """One resilient client per backend; a URL in settings replaces the in-process sandbox.

    `wrap` decorates each backend's transport (tests and benchmarks inject faults there).
    """

    faults: dict[str, FaultInjector] = {}

    def transport(
        name: str, backend: BackendSettings, sandbox: Callable[[], Starlette]
    ) -> httpx.AsyncBaseTransport:
        if backend.url is None:
            sandbox_app = sandbox()
            faults[name] = sandbox_app.state.faults
            inner: httpx.AsyncBaseTransport = InProcessTransport(app=sandbox_app)
        else:
            inner = http_transport(backend)
        return wrap(name, inner) if wrap else inner

    if private_sandboxes(settings):
        from sandboxes import business_central, stripe
        from sandboxes import crm as channel_sandbox
        from sandboxes import support as desk_sandbox

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
    crm_state = channel_sandbox.seeded_state() if settings.crm.url is None else None
    support_state = desk_sandbox.DeskState() if settings.support.url is None else None
    crm_client = ResilientClient(
        backend="crm",
        base_url=settings.crm.url or CRM_SANDBOX_URL,
        settings=settings.crm,
        headers=channel_headers(settings.crm),
        transport=transport("crm", settings.crm, lambda: channel_sandbox.create_app(crm_state)),
    )
    support_client = ResilientClient(
        backend="support",
        base_url=settings.support.url or SUPPORT_SANDBOX_URL,
        settings=settings.support,
        headers=desk_headers(settings.support),
        transport=transport(
            "support", settings.support, lambda: desk_sandbox.create_app(support_state)
        ),
    )
    return Backends(
        erp=BusinessCentralAdapter(erp_client),
        billing=StripeAdapter(billing_client),
        crm=ChannelAdapter(crm_client),
        support=DeskAdapter(support_client),
        clients={
            "erp": erp_client,
            "billing": billing_client,
            "crm": crm_client,
            "support": support_client,
        },
        erp_sandbox=erp_state,
        billing_sandbox=billing_state,
        crm_sandbox=crm_state,
        support_sandbox=support_state,
        probes={
            "erp": "companies?$top=1",
            "billing": "/v1/customers?limit=1",
            "crm": "partners?status=active",
            "support": "service_credits?status=requested",
        },
        faults=faults,
    )
