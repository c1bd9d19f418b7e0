"""Console helpers: operators, signed-in browsers (httpx) and a queued posting to act on."""

from __future__ import annotations

import re

import httpx

from app.experience.console.operators import create_operator
from tests.conftest import Gateway, GatewayFactory
from tests.support.faults import SwitchableTransport
from tests.support.invoices import invoice_body

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def add_operator(gateway: Gateway, name: str, role: str) -> None:
    async with gateway.sessionmaker.begin() as session:
        await create_operator(session, name=name, role=role, password=PASSWORD)


async def signed_in(gateway: Gateway, name: str, role: str) -> tuple[httpx.AsyncClient, str]:
    """A new operator, signed in: its cookie-holding client and its CSRF token."""
    await add_operator(gateway, name, role)
    browser = httpx.AsyncClient(
        transport=gateway.anonymous._transport, base_url=gateway.anonymous.base_url
    )
    response = await browser.post("/console/sign-in", data={"name": name, "password": PASSWORD})
    assert response.status_code == 303, response.text
    page = await browser.get("/console/exceptions")
    match = CSRF.search(page.text)
    assert match is not None, page.text
    return browser, match.group(1)


async def gateway_with_erp_switch(
    make_gateway: GatewayFactory, **overrides: object
) -> tuple[Gateway, SwitchableTransport]:
    switches: dict[str, SwitchableTransport] = {}

    def wrap(name: str, inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        switches[name] = SwitchableTransport(inner)
        return switches[name]

    gateway = await make_gateway(wrap=wrap, **overrides)
    return gateway, switches["erp"]


async def queued_posting(gateway: Gateway, erp: SwitchableTransport, key: str) -> tuple[str, str]:
    """An invoice whose posting waits in the exception queue: (invoice id, run id)."""
    invoice_id = (await gateway.client.post("/v1/invoices", json=invoice_body())).json()["id"]
    erp.down = True
    response = await gateway.client.post(
        f"/v1/invoices/{invoice_id}/postings", json={}, headers={"Idempotency-Key": key}
    )
    erp.down = False
    assert response.status_code == 202, response.text
    return invoice_id, response.json()["run_id"]
