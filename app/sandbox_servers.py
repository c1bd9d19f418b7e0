"""The built-in sandboxes as HTTP servers (`ledgergate sandbox ...`), one port per backend.

Started once, they are the backends every process of a development estate shares: the
gateway's processes and its workers all reach the same ERP, billing, CRM and support
desk through their URLs, where sandboxes in process would each be private.
"""

from __future__ import annotations

import asyncio

import uvicorn
from starlette.applications import Starlette

PORTS = {"erp": 8101, "billing": 8102, "crm": 8103, "support": 8104}
"""Each backend's default port."""
API_ROOTS = {
    "erp": "/v2.0/sandbox/api/v1.0",
    "billing": "",
    "crm": "/api/v1",
    "support": "/desk/v2",
}
"""What follows the origin in each backend's `LEDGERGATE_<BACKEND>__URL`."""


def sandbox_url(backend: str, *, host: str = "127.0.0.1", port: int | None = None) -> str:
    """The URL a process sets as the backend's `LEDGERGATE_<BACKEND>__URL`."""
    return f"http://{host}:{port or PORTS[backend]}{API_ROOTS[backend]}"


async def serve_sandboxes(
    ports: dict[str, int],
    *,
    host: str,
    webhook_url: str | None,
    webhook_secret: str,
    crm_webhook_url: str | None = None,
    crm_webhook_secret: str = "",
) -> None:
    """Serve each named sandbox on its port until interrupted.

    With `webhook_url`, the billing sandbox signs its events with `webhook_secret` and
    POSTs them there, retrying a failed delivery, as Stripe does; with `crm_webhook_url`,
    the CRM sandbox its accepted quotes, signed with `crm_webhook_secret`.
    """
    from sandboxes import business_central, crm, stripe, support

    def billing() -> Starlette:
        endpoints = (
            [] if webhook_url is None else [stripe.WebhookEndpoint(webhook_url, webhook_secret)]
        )
        return stripe.create_app(stripe.StripeState(webhook_endpoints=endpoints))

    def channel() -> Starlette:
        state = crm.seeded_state()
        if crm_webhook_url is not None:
            state.webhook_endpoints.append(crm.WebhookEndpoint(crm_webhook_url, crm_webhook_secret))
        return crm.create_app(state)

    factories = {
        "erp": business_central.create_app,
        "billing": billing,
        "crm": channel,
        "support": support.create_app,
    }
    servers = [
        uvicorn.Server(uvicorn.Config(factories[name](), host=host, port=port, log_level="warning"))
        for name, port in ports.items()
    ]
    await asyncio.gather(*(server.serve() for server in servers))
