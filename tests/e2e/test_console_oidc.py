"""Console sign-in through an OpenID Connect provider: authorization code with PKCE."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from app.experience.console.oidc import OidcClient
from tests.conftest import Gateway, GatewayFactory
from tests.support.identity_provider import CLIENT_ID, ISSUER, IdentityProvider

MAPPING = {"finance-ops": "operator", "finance-readers": "viewer"}


async def with_provider(
    make_gateway: GatewayFactory, provider: IdentityProvider
) -> tuple[Gateway, httpx.AsyncClient, httpx.AsyncClient]:
    gateway = await make_gateway(
        console={"oidc_issuer": ISSUER, "oidc_client_id": CLIENT_ID, "oidc_role_mapping": MAPPING}
    )
    transport = httpx.ASGITransport(app=provider.app())
    gateway.app.state.console_oidc = OidcClient(
        gateway.app.state.process.settings.console, transport=transport
    )
    browser = httpx.AsyncClient(
        transport=gateway.anonymous._transport, base_url=gateway.anonymous.base_url
    )
    idp = httpx.AsyncClient(transport=transport, base_url=ISSUER)
    return gateway, browser, idp


async def sign_in(browser: httpx.AsyncClient, idp: httpx.AsyncClient) -> httpx.Response:
    """The browser's round trip: the console, the provider, the console's callback."""
    login = await browser.get("/console/oidc/login")
    assert login.status_code == 303
    authorize = urlsplit(login.headers["location"])
    assert f"{authorize.scheme}://{authorize.netloc}" == ISSUER
    query = parse_qs(authorize.query)
    assert query["code_challenge_method"] == ["S256"]
    assert "code_verifier" not in query  # only its hash leaves the gateway
    back = await idp.get(f"{authorize.path}?{authorize.query}")
    assert back.status_code == 302, back.text
    callback = urlsplit(back.headers["location"])
    return await browser.get(f"{callback.path}?{callback.query}")


async def test_a_person_signs_in_at_the_provider_with_their_mapped_role(
    make_gateway: GatewayFactory,
) -> None:
    gateway, browser, idp = await with_provider(make_gateway, IdentityProvider())
    assert (await browser.get("/console/sign-in")).text.count("/console/oidc/login") == 1
    done = await sign_in(browser, idp)
    assert done.status_code == 200, done.text
    cookie = done.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    queue = await browser.get("/console/exceptions")
    assert queue.status_code == 200
    assert "pia (operator)" in queue.text
    local = await browser.post("/console/sign-in", data={"name": "pia", "password": "x" * 12})
    assert local.status_code == 401  # no local operators beside the provider


async def test_a_person_without_a_mapped_role_is_refused(make_gateway: GatewayFactory) -> None:
    _, browser, idp = await with_provider(make_gateway, IdentityProvider(roles=["sales"]))
    refused = await sign_in(browser, idp)
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("/console-no-role")
    assert refused.json()["roles"] == ["sales"]
    assert (await browser.get("/console/exceptions")).status_code == 303


@pytest.mark.parametrize("tampered", ["state", "nonce", "verifier"])
async def test_a_tampered_sign_in_is_refused(make_gateway: GatewayFactory, tampered: str) -> None:
    provider = IdentityProvider(nonce_override="another" if tampered == "nonce" else None)
    _, browser, idp = await with_provider(make_gateway, provider)
    login = await browser.get("/console/oidc/login")
    authorize = urlsplit(login.headers["location"])
    if tampered == "verifier":  # as if an attacker swapped in their own challenge
        authorize = authorize._replace(
            query=authorize.query.replace("code_challenge=", "code_challenge=x")
        )
    back = urlsplit((await idp.get(f"{authorize.path}?{authorize.query}")).headers["location"])
    query = back.query.replace("state=", "state=x") if tampered == "state" else back.query
    refused = await browser.get(f"{back.path}?{query}")
    assert refused.status_code == 400
    assert refused.json()["type"].endswith("/console-sign-in-failed")
    assert (await browser.get("/console/exceptions")).status_code == 303
