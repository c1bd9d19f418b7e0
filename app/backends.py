"""Builds the system-API ports from settings: real endpoints, or the sandboxes in process.

The ERP is one port over every configured connection (`default` and
`LEDGERGATE_ERP_CONNECTIONS`), each a Business Central or NetSuite adapter with its
own resilient client (backend `erp` for the default, `erp-<name>` for the others).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from starlette.types import ASGIApp

from app.erp_routing import ErpRouter
from core.settings import DEFAULT_ERP_CONNECTION, BackendSettings, ErpSettings, Settings
from sandboxes import business_central, netsuite, stripe
from sandboxes import crm as channel_sandbox
from sandboxes import support as desk_sandbox
from system_apis.billing.adapters.stripe import StripeAdapter, stripe_headers
from system_apis.billing.port import BillingPort
from system_apis.crm.adapters.channel import ChannelAdapter, channel_headers
from system_apis.crm.port import CrmPort
from system_apis.erp.adapters.business_central import BusinessCentralAdapter
from system_apis.erp.adapters.netsuite import NetSuiteAdapter
from system_apis.erp.port import ErpInvoicing
from system_apis.http import InProcessTransport, ResilientClient, http_transport
from system_apis.support.adapters.desk import DeskAdapter, desk_headers
from system_apis.support.port import SupportPort

ERP_SANDBOX_URL = "http://erp.sandbox/v2.0/sandbox/api/v1.0"
NETSUITE_SANDBOX_URL = "http://netsuite.sandbox/services/rest/record/v1"
ERP_PROBES = {"business_central": "companies?$top=1", "netsuite": "currency"}
BILLING_SANDBOX_URL = "http://billing.sandbox"
CRM_SANDBOX_URL = "http://crm.sandbox/api/v1"
SUPPORT_SANDBOX_URL = "http://support.sandbox/desk/v2"


ErpSandbox = business_central.BusinessCentralState | netsuite.NetSuiteState


@dataclass
class Backends:
    erp: ErpRouter
    billing: BillingPort
    crm: CrmPort
    support: SupportPort
    clients: dict[str, ResilientClient]
    erp_sandbox: business_central.BusinessCentralState | None = None  # the default's
    erp_sandboxes: dict[str, ErpSandbox] = field(default_factory=dict)
    billing_sandbox: stripe.StripeState | None = None
    crm_sandbox: channel_sandbox.CrmState | None = None
    support_sandbox: desk_sandbox.DeskState | None = None
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

    def erp_connection(name: str, erp: ErpSettings) -> tuple[ErpInvoicing, ResilientClient]:
        backend = "erp" if name == DEFAULT_ERP_CONNECTION else f"erp-{name}"
        state: ErpSandbox | None = None
        if erp.kind == "netsuite":
            ns_state = netsuite.NetSuiteState() if erp.url is None else None
            sandbox: Callable[[], ASGIApp] = lambda: netsuite.create_app(ns_state)  # noqa: E731
            sandbox_url, state = NETSUITE_SANDBOX_URL, ns_state
        else:
            bc_state = business_central.BusinessCentralState() if erp.url is None else None
            sandbox = lambda: business_central.create_app(bc_state)  # noqa: E731
            sandbox_url, state = ERP_SANDBOX_URL, bc_state
        if state is not None:
            erp_sandboxes[name] = state
        client = ResilientClient(
            backend=backend,
            base_url=erp.url or sandbox_url,
            settings=erp,
            headers={"Authorization": f"Bearer {erp.access_token.get_secret_value()}"},
            transport=transport(backend, erp, sandbox),
        )
        if erp.kind == "netsuite":
            line_item = erp.netsuite_line_item_id or netsuite.SERVICE_ITEM_ID
            return NetSuiteAdapter(client, line_item_id=line_item), client
        return BusinessCentralAdapter(client), client

    erp_sandboxes: dict[str, ErpSandbox] = {}
    erps = {
        name: erp_connection(name, erp) for name, erp in settings.erp_connection_settings.items()
    }
    erp_clients = {client.backend: client for _, client in erps.values()}
    erp_probes = {
        client.backend: ERP_PROBES[erp.kind]
        for (_, client), erp in zip(
            erps.values(), settings.erp_connection_settings.values(), strict=True
        )
    }
    default_sandbox = erp_sandboxes.get(DEFAULT_ERP_CONNECTION)
    billing_state = stripe.StripeState() if settings.billing.url is None else None
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
        erp=ErpRouter(
            {name: adapter for name, (adapter, _) in erps.items()},
            {name: erp.kind for name, erp in settings.erp_connection_settings.items()},
        ),
        billing=StripeAdapter(billing_client),
        crm=ChannelAdapter(crm_client),
        support=DeskAdapter(support_client),
        clients={
            **erp_clients,
            "billing": billing_client,
            "crm": crm_client,
            "support": support_client,
        },
        erp_sandbox=(
            default_sandbox
            if isinstance(default_sandbox, business_central.BusinessCentralState)
            else None
        ),
        erp_sandboxes=erp_sandboxes,
        billing_sandbox=billing_state,
        crm_sandbox=crm_state,
        support_sandbox=support_state,
        probes={
            **erp_probes,
            "billing": "/v1/customers?limit=1",
            "crm": "partners?status=active",
            "support": "service_credits?status=requested",
        },
    )
