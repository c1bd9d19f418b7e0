"""Builds the system-API ports from settings: real endpoints, or the sandboxes in process.

The ERP is one port over every configured connection (`default` and
`LEDGERGATE_ERP_CONNECTIONS`), each a Business Central or NetSuite adapter with its
own resilient client (backend `erp` for the default, `erp-<name>` for the others).

Every ERP connection's client takes its requests from the connection's budget
(`system_apis.budget`), and billing's from Stripe's read and write budgets, shared
through Redis when the rate limiter's storage is Redis, through the database otherwise
(bound once the runtime has one).

The sandboxes are imported only when a backend has no URL: a production gateway, where
every backend has one, never loads them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp

from app.erp_routing import ErpRouter
from core.settings import (
    DEFAULT_ERP_CONNECTION,
    BackendSettings,
    BillingSettings,
    ErpSettings,
    Settings,
)
from system_apis.billing.adapters.stripe import StripeAdapter, stripe_headers
from system_apis.billing.port import BillingPort
from system_apis.budget import BillingBudget, ErpBudget
from system_apis.budget_database import DatabaseBudgetStore
from system_apis.crm.adapters.channel import ChannelAdapter, channel_headers
from system_apis.crm.port import CrmPort
from system_apis.erp.adapters.business_central import BusinessCentralAdapter
from system_apis.erp.adapters.netsuite import NetSuiteAdapter
from system_apis.erp.port import ErpPort
from system_apis.http import InProcessTransport, ResilientClient, http_transport
from system_apis.support.adapters.desk import DeskAdapter, desk_headers
from system_apis.support.port import SupportPort

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from sandboxes.business_central import BusinessCentralState
    from sandboxes.crm import CrmState
    from sandboxes.faults import FaultInjector
    from sandboxes.netsuite import NetSuiteState
    from sandboxes.stripe import StripeState
    from sandboxes.support import DeskState
    from system_apis.budget_redis import RedisBudgetStore

ERP_SANDBOX_URL = "http://erp.sandbox/v2.0/sandbox/api/v1.0"
NETSUITE_SANDBOX_URL = "http://netsuite.sandbox/services/rest/record/v1"
ERP_PROBES = {"business_central": "companies?$top=1", "netsuite": "currency"}
BILLING_SANDBOX_URL = "http://billing.sandbox"
CRM_SANDBOX_URL = "http://crm.sandbox/api/v1"
SUPPORT_SANDBOX_URL = "http://support.sandbox/desk/v2"
GATEWAY_BILLING_WEBHOOK = "http://gateway.internal/webhooks/billing/stripe"


@dataclass
class Backends:
    erp: ErpRouter
    billing: BillingPort
    crm: CrmPort
    support: SupportPort
    clients: dict[str, ResilientClient]
    erp_sandbox: BusinessCentralState | None = None  # the default connection's
    erp_sandboxes: dict[str, BusinessCentralState | NetSuiteState] = field(default_factory=dict)
    billing_sandbox: StripeState | None = None
    crm_sandbox: CrmState | None = None
    support_sandbox: DeskState | None = None
    probes: dict[str, str] = field(default_factory=dict)
    faults: dict[str, FaultInjector] = field(default_factory=dict)
    """The fault injection of each sandbox running in this process, by backend."""
    budget_store: RedisBudgetStore | DatabaseBudgetStore | None = None

    def bind(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        """Give the parts that need the database their sessions."""
        self.erp.bind(sessionmaker)  # the ERP connection of a company is its legal entity's
        if isinstance(self.budget_store, DatabaseBudgetStore):
            self.budget_store.bind(sessionmaker)

    async def aclose(self) -> None:
        for client in self.clients.values():
            await client.aclose()
        if self.budget_store is not None and not isinstance(self.budget_store, DatabaseBudgetStore):
            await self.budget_store.aclose()
        if self.billing_sandbox is not None and self.billing_sandbox.webhook_tasks:
            for task in self.billing_sandbox.webhook_tasks:
                task.cancel()
            await asyncio.gather(*self.billing_sandbox.webhook_tasks, return_exceptions=True)

    def deliver_billing_events(self, gateway: ASGIApp, *, secret: str) -> None:
        """Have the in-process billing sandbox send its signed events to the gateway's
        webhook, as Stripe would, so billing-driven workflows run on their own."""
        if self.billing_sandbox is None:  # a gateway with billing's URL loads no sandbox
            return
        from sandboxes.stripe import WebhookEndpoint

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
    return [name for name, backend in settings.backends() if backend.url is None]


BUDGET_LEASE_MARGIN_SECONDS = 5.0
"""A slot outlives its request's time budget by this much before another process may
take it (when the process holding it died)."""


def budget_store(settings: Settings) -> RedisBudgetStore | DatabaseBudgetStore:
    """Redis when the rate limiter counts there (every replica shares it), else the database."""
    url = settings.rate_limit_storage_url.removeprefix("async+")
    if url.startswith(("redis://", "rediss://")):
        # Imported here: the Redis client costs a worker 15 MiB, for nothing without Redis.
        from system_apis.budget_redis import RedisBudgetStore

        return RedisBudgetStore(url)
    return DatabaseBudgetStore()


def erp_budget(
    backend: str,
    erp: ErpSettings,
    store: RedisBudgetStore | DatabaseBudgetStore,
    *,
    fail_open: bool,
) -> ErpBudget:
    """`fail_open`: as the rate limiter, when the shared store cannot be reached."""
    return ErpBudget(
        backend,
        erp.limits,
        store,
        wait_seconds=erp.budget_wait_seconds,
        lease_seconds=erp.retry_budget_seconds + BUDGET_LEASE_MARGIN_SECONDS,
        fail_open=fail_open,
        interactive_reserve=erp.interactive_reserve,
    )


def billing_budgets(
    billing: BillingSettings,
    store: RedisBudgetStore | DatabaseBudgetStore,
    *,
    fail_open: bool,
) -> tuple[BillingBudget | None, BillingBudget | None]:
    """Stripe's read and write budgets (backends `billing-read`, `billing-write`), or none."""
    if not billing.budgeted:
        return None, None

    def budget(kind: str) -> BillingBudget:
        return BillingBudget(
            f"billing-{kind}",
            billing.limits(write=kind == "write"),
            store,
            wait_seconds=billing.budget_wait_seconds,
            lease_seconds=billing.retry_budget_seconds + BUDGET_LEASE_MARGIN_SECONDS,
            fail_open=fail_open,
            interactive_reserve=billing.interactive_reserve,
        )

    return budget("read"), budget("write")


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
            if (injector := getattr(sandbox_app.state, "faults", None)) is not None:
                faults[name] = injector
            inner: httpx.AsyncBaseTransport = InProcessTransport(app=sandbox_app)
        else:
            inner = http_transport(backend)
        return wrap(name, inner) if wrap else inner

    if private_sandboxes(settings):
        from sandboxes import business_central, netsuite, stripe
        from sandboxes import crm as channel_sandbox
        from sandboxes import support as desk_sandbox

    erp_sandboxes: dict[str, BusinessCentralState | NetSuiteState] = {}
    store = budget_store(settings)

    def erp_connection(name: str, erp: ErpSettings) -> tuple[ErpPort, ResilientClient]:
        backend = "erp" if name == DEFAULT_ERP_CONNECTION else f"erp-{name}"
        sandbox: Callable[[], Starlette]
        state: BusinessCentralState | NetSuiteState | None
        if erp.kind == "netsuite":
            ns_state = netsuite.NetSuiteState() if erp.url is None else None
            sandbox = lambda: netsuite.create_app(ns_state)  # noqa: E731
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
            budget=erp_budget(backend, erp, store, fail_open=settings.rate_limits_fail_open),
        )
        if erp.kind == "netsuite":
            line_item = erp.netsuite_line_item_id or netsuite.SERVICE_ITEM_ID
            return NetSuiteAdapter(client, line_item_id=line_item), client
        return BusinessCentralAdapter(client), client

    connections = settings.erp_connection_settings
    erps = {name: erp_connection(name, erp) for name, erp in connections.items()}
    erp_clients = {client.backend: client for _, client in erps.values()}
    erp_probes = {erps[name][1].backend: ERP_PROBES[erp.kind] for name, erp in connections.items()}
    default_sandbox = erp_sandboxes.get(DEFAULT_ERP_CONNECTION)
    billing_state = stripe.StripeState() if settings.billing.url is None else None
    billing_reads, billing_writes = billing_budgets(
        settings.billing, store, fail_open=settings.rate_limits_fail_open
    )
    billing_client = ResilientClient(
        backend="billing",
        base_url=settings.billing.url or BILLING_SANDBOX_URL,
        settings=settings.billing,
        headers=stripe_headers(settings.billing),
        transport=transport("billing", settings.billing, lambda: stripe.create_app(billing_state)),
        budget=billing_reads,
        write_budget=billing_writes,
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
        erp=ErpRouter({name: adapter for name, (adapter, _) in erps.items()}),
        billing=StripeAdapter(billing_client),
        crm=ChannelAdapter(crm_client),
        support=DeskAdapter(support_client),
        clients={
            **erp_clients,
            "billing": billing_client,
            "crm": crm_client,
            "support": support_client,
        },
        erp_sandbox=cast("BusinessCentralState | None", default_sandbox)
        if settings.erp.kind == "business_central"
        else None,
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
        faults=faults,
        budget_store=store,
    )
