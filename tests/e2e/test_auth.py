"""Authentication and authorization at the edge (OWASP API2 broken authentication, API5)."""

import asyncio
import base64
import hashlib
import hmac
import json
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest
from joserfc import jwk, jwt

from app.governance.auth import clients, tokens
from app.governance.auth.keys import rotate_keys
from app.governance.auth.tokens import VerifiedToken, VerifiedTokenCache
from core.errors import PROBLEM_BASE_URI
from core.scopes import SCOPES
from tests.conftest import Gateway, GatewayFactory
from tests.support.scrypt import counting_scrypt

PLATFORM = "/v1/legal-entities"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(gateway: Gateway, **overrides: Any) -> dict[str, Any]:
    settings = gateway.app.state.auth.settings
    now = int(time.time())
    values: dict[str, Any] = {
        "iss": settings.issuer,
        "aud": settings.audience,
        "sub": "test-platform",
        "client_id": "test-platform",
        "scope": "legal_entities:read",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def signed(gateway: Gateway, body: dict[str, Any]) -> str:
    key = gateway.app.state.auth.ring.signing_key()
    return jwt.encode({"alg": "ES256", "kid": key.kid}, body, key)


async def call(gateway: Gateway, token: str | None, path: str = PLATFORM) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return await gateway.anonymous.get(path, headers=headers)


def assert_unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == PROBLEM_BASE_URI + "unauthorized"
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_valid_token_is_accepted(gateway: Gateway) -> None:
    response = await call(gateway, signed(gateway, claims(gateway)))
    assert response.status_code == 200


async def test_no_token_is_a_401(gateway: Gateway) -> None:
    assert_unauthorized(await call(gateway, None))


@pytest.mark.parametrize("header", ["Basic abc", "Bearer", "Bearer ", "token abc"])
async def test_a_malformed_authorization_header_is_a_401(gateway: Gateway, header: str) -> None:
    assert_unauthorized(await gateway.anonymous.get(PLATFORM, headers={"Authorization": header}))


async def test_a_tampered_signature_is_a_401(gateway: Gateway) -> None:
    header, payload, signature = signed(gateway, claims(gateway)).split(".")
    forged_payload = b64(json.dumps(claims(gateway, scope=" ".join(SCOPES))).encode())
    assert_unauthorized(await call(gateway, f"{header}.{forged_payload}.{signature}"))


@pytest.mark.parametrize(
    "override",
    [
        {"exp": int(time.time()) - 3600},
        {"nbf": int(time.time()) + 3600},
        {"iss": "https://evil.example"},
        {"aud": "another-api"},
        {"exp": None},
    ],
    ids=["expired", "not-yet-valid", "wrong-issuer", "wrong-audience", "no-expiry"],
)
async def test_bad_claims_are_a_401(gateway: Gateway, override: dict[str, Any]) -> None:
    assert_unauthorized(await call(gateway, signed(gateway, claims(gateway, **override))))


async def test_alg_none_is_a_401(gateway: Gateway) -> None:
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    payload = b64(json.dumps(claims(gateway, scope=" ".join(SCOPES))).encode())
    assert_unauthorized(await call(gateway, f"{header}.{payload}."))


async def test_an_hmac_token_signed_with_the_public_key_is_a_401(gateway: Gateway) -> None:
    """Algorithm confusion: HS256 keyed with the published public key."""
    public = (await gateway.anonymous.get("/.well-known/jwks.json")).json()["keys"][0]
    kid = public["kid"]
    header = b64(json.dumps({"alg": "HS256", "kid": kid, "typ": "JWT"}).encode())
    payload = b64(json.dumps(claims(gateway, scope=" ".join(SCOPES))).encode())
    for secret in (json.dumps(public).encode(), public["x"].encode()):
        mac = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        assert_unauthorized(await call(gateway, f"{header}.{payload}.{b64(mac)}"))


async def test_a_token_from_an_unknown_key_is_a_401(gateway: Gateway) -> None:
    stranger = jwk.ECKey.generate_key("P-256", parameters={"kid": "stranger"}, private=True)
    token = jwt.encode({"alg": "ES256", "kid": "stranger"}, claims(gateway), stranger)
    assert_unauthorized(await call(gateway, token))


@pytest.mark.parametrize(
    "garbage", ["abc", "a.b.c", "eyJhbGciOiJFUzI1NiJ9.e30", "....", "%%%.%%%.%%%"]
)
async def test_garbage_tokens_are_a_401(gateway: Gateway, garbage: str) -> None:
    assert_unauthorized(await call(gateway, garbage))


async def test_a_disabled_clients_live_token_stops_working(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway(auth={"client_cache_seconds": 0})
    token = await gateway.token(["legal_entities:read"], client_id="to-disable")
    assert (await call(gateway, token)).status_code == 200
    async with gateway.sessionmaker() as session:
        await clients.disable_client(session, "to-disable")
        await session.commit()
    assert_unauthorized(await call(gateway, token))


async def test_a_missing_scope_is_a_403_naming_it(gateway: Gateway) -> None:
    token = await gateway.token(["invoices:read"])
    response = await call(gateway, token)
    assert response.status_code == 403
    assert response.json()["type"] == PROBLEM_BASE_URI + "forbidden"
    assert response.json()["missing_scopes"] == ["legal_entities:read"]


async def token_request(gateway: Gateway, **kwargs: Any) -> httpx.Response:
    return await gateway.anonymous.post("/oauth/token", **kwargs)


async def make_client(gateway: Gateway, scopes: list[str]) -> tuple[str, str]:
    async with gateway.sessionmaker() as session:
        row, secret = await clients.create_client(session, name="t", scopes=scopes)
        await session.commit()
    return row.id, secret


async def test_the_token_endpoint_issues_a_working_token(gateway: Gateway) -> None:
    client_id, secret = await make_client(gateway, ["legal_entities:read", "invoices:read"])
    response = await token_request(
        gateway, data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert set(body["scope"].split()) == {"legal_entities:read", "invoices:read"}
    assert (await call(gateway, body["access_token"])).status_code == 200


async def test_secrets_may_be_posted_in_the_form_and_scopes_narrowed(gateway: Gateway) -> None:
    client_id, secret = await make_client(gateway, ["legal_entities:read", "invoices:read"])
    response = await token_request(
        gateway,
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            "scope": "invoices:read",
        },
    )
    assert response.json()["scope"] == "invoices:read"
    assert (await call(gateway, response.json()["access_token"])).status_code == 403


@pytest.mark.parametrize(
    ("data", "status", "error"),
    [
        ({"grant_type": "client_credentials", "client_secret": "wrong"}, 401, "invalid_client"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"grant_type": "client_credentials", "scope": "root:everything"}, 400, "invalid_scope"),
    ],
)
async def test_token_requests_are_refused_as_rfc_6749_says(
    gateway: Gateway, data: dict[str, str], status: int, error: str
) -> None:
    client_id, secret = await make_client(gateway, ["invoices:read"])
    data = {"client_id": client_id, "client_secret": secret} | data
    response = await token_request(gateway, data=data)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["error"] == error


async def test_a_disabled_client_gets_no_token(gateway: Gateway) -> None:
    client_id, secret = await make_client(gateway, ["invoices:read"])
    async with gateway.sessionmaker() as session:
        await clients.disable_client(session, client_id)
        await session.commit()
    response = await token_request(
        gateway, data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )
    assert response.status_code in (400, 401)
    assert response.json()["error"] in ("invalid_client", "unauthorized_client")


async def test_the_token_endpoint_wants_a_form(gateway: Gateway) -> None:
    response = await token_request(gateway, json={"grant_type": "client_credentials"})
    assert response.status_code == 415


async def test_a_rotated_secret_keeps_the_old_one_for_the_grace_period(gateway: Gateway) -> None:
    client_id, old = await make_client(gateway, ["invoices:read"])
    async with gateway.sessionmaker() as session:
        new = await clients.rotate_secret(session, client_id)
        await session.commit()
    for secret in (old, new):
        response = await token_request(
            gateway, data={"grant_type": "client_credentials"}, auth=(client_id, secret)
        )
        assert response.status_code == 200
    async with gateway.sessionmaker() as session:
        await clients.rotate_secret(session, client_id, grace=timedelta(0))
        await session.commit()
    response = await token_request(
        gateway, data={"grant_type": "client_credentials"}, auth=(client_id, new)
    )
    assert response.status_code == 401


async def test_a_generated_secret_is_checked_with_no_scrypt_hash(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """256 random bits need no memory-hard hash: a worker's token requests take no 16 MiB."""
    client_id, secret = await make_client(gateway, ["invoices:read"])
    calls = counting_scrypt(monkeypatch)
    for auth, status in (
        ((client_id, secret), 200),
        ((client_id, secret + "x"), 401),
        (("no-such-client", secret), 401),
    ):
        response = await token_request(
            gateway, data={"grant_type": "client_credentials"}, auth=auth
        )
        assert response.status_code == status
    async with gateway.sessionmaker() as session:
        row = await clients.get_client(session, client_id)
    assert row.secret_hash.startswith("sha256$")
    assert calls == []


async def test_a_chosen_secret_is_kept_as_scrypt_and_rotates_to_a_generated_one(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with gateway.sessionmaker() as session:
        row, _ = await clients.create_client(
            session, name="t", scopes=["invoices:read"], secret="chosen-by-a-person"
        )
        await session.commit()
        assert row.secret_hash.startswith("scrypt$")
        new = await clients.rotate_secret(session, row.id)
        await session.commit()
        assert row.secret_hash.startswith("sha256$")
    calls = counting_scrypt(monkeypatch)
    for secret, status in (("chosen-by-a-person", 200), (new, 200), ("wrong", 401)):
        response = await token_request(
            gateway, data={"grant_type": "client_credentials"}, auth=(row.id, secret)
        )
        assert response.status_code == status
    assert len(calls) == 2  # the old secret, in its grace; the wrong one against it too


async def test_key_rotation_keeps_tokens_of_the_old_key_valid(gateway: Gateway) -> None:
    auth = gateway.app.state.auth
    before = signed(gateway, claims(gateway))
    old_kid = auth.ring.signing_key().kid
    async with gateway.sessionmaker() as session:
        new_kid = await rotate_keys(
            session,
            algorithm="ES256",
            token_ttl=auth.settings.token_ttl,
            encryption=auth.ring.encryption,
        )
        await session.commit()
    await auth.ring.reload()
    published = {
        key["kid"] for key in (await gateway.anonymous.get("/.well-known/jwks.json")).json()["keys"]
    }
    assert published == {old_kid, new_kid}
    assert auth.ring.signing_key().kid == new_kid
    assert (await call(gateway, before)).status_code == 200
    assert (await call(gateway, signed(gateway, claims(gateway)))).status_code == 200


async def test_the_jwks_publishes_no_private_material(gateway: Gateway) -> None:
    keys = (await gateway.anonymous.get("/.well-known/jwks.json")).json()["keys"]
    assert keys
    assert all("d" not in key for key in keys)


def external_idp() -> tuple[jwk.ECKey, httpx.MockTransport, list[int]]:
    key = jwk.ECKey.generate_key("P-256", parameters={"kid": "idp-1", "alg": "ES256"}, private=True)
    fetches: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        fetches.append(1)
        return httpx.Response(200, json={"keys": [key.as_dict(private=False)]})

    return key, httpx.MockTransport(handler), fetches


async def test_tokens_of_a_configured_external_identity_provider_are_accepted(
    make_gateway: GatewayFactory,
) -> None:
    key, transport, fetches = external_idp()
    gateway = await make_gateway(
        auth={
            "external_issuer": "https://idp.example",
            "external_audience": "ledgergate",
            "external_jwks_url": "https://idp.example/jwks",
        }
    )
    await gateway.app.state.auth.http.aclose()
    gateway.app.state.auth.http = httpx.AsyncClient(transport=transport)
    gateway.app.state.auth.authenticator.verifier.external.client = gateway.app.state.auth.http
    now = int(time.time())
    body = {
        "iss": "https://idp.example",
        "aud": "ledgergate",
        "azp": "crm-sync",
        "exp": now + 60,
        "scope": "legal_entities:read",
    }
    token = jwt.encode({"alg": "ES256", "kid": "idp-1"}, body, key)
    assert (await call(gateway, token)).status_code == 200
    assert (await call(gateway, token)).status_code == 200
    assert len(fetches) == 1  # cached
    wrong_audience = jwt.encode({"alg": "ES256", "kid": "idp-1"}, body | {"aud": "other"}, key)
    assert_unauthorized(await call(gateway, wrong_audience))


class ShiftedClock:
    """The `time` module as `app.governance.auth.tokens` sees it, its monotonic clock moved
    on at will: a pause passes without the test waiting for it (or a busy host's burst of
    requests outlasting it)."""

    def __init__(self) -> None:
        self.shift = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.shift

    def time(self) -> float:
        return time.time()


async def test_unknown_kids_cannot_make_the_gateway_hammer_the_identity_provider(
    make_gateway: GatewayFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, transport, fetches = external_idp()
    clock = ShiftedClock()
    monkeypatch.setattr(tokens, "time", clock)
    gateway = await make_gateway(
        auth={
            "external_issuer": "https://idp.example",
            "external_audience": "ledgergate",
            "external_jwks_url": "https://idp.example/jwks",
            "external_jwks_min_refetch_seconds": 30,
        }
    )
    await gateway.app.state.auth.http.aclose()
    gateway.app.state.auth.http = httpx.AsyncClient(transport=transport)
    gateway.app.state.auth.authenticator.verifier.external.client = gateway.app.state.auth.http
    gateway.app.state.rate_limiter.settings.enabled = False  # the fetches are under test
    body = {"iss": "https://idp.example", "aud": "ledgergate", "exp": int(time.time()) + 60}
    made_up = [jwt.encode({"alg": "ES256", "kid": f"made-up-{n}"}, body, key) for n in range(20)]

    answers = await asyncio.gather(*(call(gateway, token) for token in made_up))
    clock.shift = 31  # the pause is over
    later = await call(gateway, made_up[0])

    assert {a.status_code for a in answers} == {401}
    assert later.status_code == 401
    assert len(fetches) == 2  # one at first, one once the pause was over: not 21


async def test_every_api_operation_declares_its_scopes_in_the_contract(gateway: Gateway) -> None:
    document = (await gateway.anonymous.get("/openapi.json")).json()
    public = {
        "/healthz",
        "/readyz",
        "/metrics",
        "/versions",
        "/oauth/token",
        "/.well-known/jwks.json",
        "/webhooks/billing/stripe",
        "/webhooks/crm/channel",
    }
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if path in public:
                continue
            requirement = operation.get("security")
            assert requirement, f"{method.upper()} {path} has no security requirement"
            assert all(scope in SCOPES for r in requirement for scope in r["OAuth2"])
    flows = document["components"]["securitySchemes"]["OAuth2"]["flows"]
    assert flows["clientCredentials"]["tokenUrl"] == "/oauth/token"


async def test_a_cached_token_still_expires(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    verifier = gateway.app.state.auth.authenticator.verifier
    now = time.time()
    token = signed(gateway, claims(gateway, exp=int(now) + 60))
    assert (await call(gateway, token)).status_code == 200
    assert verifier.cache.get(token) is not None
    monkeypatch.setattr(time, "time", lambda: now + 600)  # ten minutes pass
    assert_unauthorized(await call(gateway, token))
    assert verifier.cache.get(token) is None


def test_the_verified_token_cache_is_bounded() -> None:
    cache = VerifiedTokenCache(max_entries=2)
    for name in ("a", "b", "c"):
        cache.put(name, VerifiedToken({"exp": time.time() + 60}, external=False))
    assert cache.get("a") is None
    assert cache.get("c") is not None
