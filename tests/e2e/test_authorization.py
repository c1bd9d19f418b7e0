"""Authorization holds against the client's current grant (OWASP API5), not the token alone.

A partner-bound client holds partner scopes only: it is refused non-partner scopes when
created and when it asks for a token, and a token that claims them anyway (an older
client row, a forged token, an external identity provider) is refused on every
operation outside the partner portal. The operations are taken from the served
contracts, so a new route is covered without touching this module.
"""

import os
import re
import time
import uuid
from typing import Any

import pytest
import redis.asyncio as aioredis
from joserfc import jwt
from redis.exceptions import RedisError
from sqlalchemy import select, text, update

from app.governance.auth import clients
from app.governance.auth.client_status import announce_status_change
from app.governance.contracts import contracts_of
from app.governance.openapi import operations
from app.seed import demo_id
from core.models.api_client import ApiClientRow, ClientStatus
from core.models.signing_key import SigningKeyRow
from core.scopes import PARTNER_SCOPES, SCOPES
from tests.conftest import Gateway, GatewayFactory
from tests.support.services import service_missing

REDIS_URL = os.environ.get("LEDGERGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
NORTHWIND = demo_id("partner", 1)
LEGACY = "legacy-partner-portal"


def forged(gateway: Gateway, client_id: str, scopes: Any, **extra: Any) -> str:
    """A token signed with the gateway's own private key, claiming whatever it likes."""
    settings = gateway.app.state.auth.settings
    now = int(time.time())
    body = {
        "iss": settings.issuer,
        "aud": settings.audience,
        "sub": client_id,
        "client_id": client_id,
        "scope": " ".join(sorted(scopes)),
        "iat": now,
        "nbf": now,
        "exp": now + 300,
    } | extra
    key = gateway.app.state.auth.ring.signing_key()
    return jwt.encode({"alg": "ES256", "kid": key.kid}, body, key)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_partner_client_cannot_be_granted_other_scopes(gateway: Gateway) -> None:
    async with gateway.sessionmaker() as session:
        with pytest.raises(clients.InvalidClient, match="partner-bound"):
            await clients.create_client(
                session, name="p", scopes={"partner:read", "invoices:read"}, partner_id=NORTHWIND
            )


async def legacy_partner_client(gateway: Gateway) -> str:
    """A partner-bound client stored before the rule, holding every scope; its secret."""
    async with gateway.sessionmaker() as session:
        row, secret = await clients.create_client(
            session, name="legacy", scopes=PARTNER_SCOPES, partner_id=NORTHWIND, client_id=LEGACY
        )
        await session.execute(
            update(ApiClientRow).where(ApiClientRow.id == row.id).values(scopes=sorted(SCOPES))
        )
        await session.commit()
    return secret


async def test_a_partner_client_gets_no_token_for_other_scopes(gateway: Gateway) -> None:
    secret = await legacy_partner_client(gateway)
    refused = await gateway.anonymous.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "partner:read invoices:read"},
        auth=(LEGACY, secret),
    )
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "invalid_scope"
    issued = await gateway.anonymous.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(LEGACY, secret)
    )
    assert issued.json()["scope"] == " ".join(sorted(PARTNER_SCOPES))  # narrowed to them


def served_operations(gateway: Gateway) -> list[tuple[str, str, str]]:
    """(contract, method, path) of every served operation that always needs a scope."""
    return [
        (name, method, path)
        for name, document in contracts_of(gateway.app).items()
        for path, method, operation in operations(document)
        if operation.get("security")
        and all(requirement.get("OAuth2") for requirement in operation["security"])
    ]


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x1", path)


async def test_a_partner_token_reaches_nothing_outside_the_partner_portal(
    gateway: Gateway,
) -> None:
    await legacy_partner_client(gateway)
    token = forged(gateway, LEGACY, SCOPES, partner_id=NORTHWIND)
    checked = served_operations(gateway)
    assert {name for name, _, _ in checked} >= {"v1", "v2", "partner-v1", "ops-v1", "system-v1"}
    reached = []
    for name, method, path in checked:
        response = await gateway.anonymous.request(
            method.upper(),
            concrete(path),
            headers=bearer(token) | {"Idempotency-Key": "k-1"},
            json={} if method in ("post", "put", "patch") else None,
        )
        if name == "partner-v1":
            assert response.status_code != 403, (method, path, response.text)
        elif response.status_code != 403:
            reached.append((method, path, response.status_code))
    assert reached == []


async def test_a_scope_the_client_was_never_granted_is_refused(gateway: Gateway) -> None:
    await gateway.token(["invoices:read"], client_id="narrow")
    token = forged(gateway, "narrow", {"invoices:read", "legal_entities:read"})
    response = await gateway.anonymous.get("/v1/legal-entities", headers=bearer(token))
    assert response.status_code == 403, response.text
    assert response.json()["missing_scopes"] == ["legal_entities:read"]


async def test_a_revoked_scope_is_refused_within_the_cache_window(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway(auth={"client_cache_seconds": 0.2})
    token = await gateway.token(["legal_entities:read"], client_id="revoked")
    assert (await gateway.anonymous.get("/v1/legal-entities", headers=bearer(token))).is_success
    async with gateway.sessionmaker() as session:
        await session.execute(
            update(ApiClientRow).where(ApiClientRow.id == "revoked").values(scopes=[])
        )
        await session.commit()
    time.sleep(0.25)
    response = await gateway.anonymous.get("/v1/legal-entities", headers=bearer(token))
    assert response.status_code == 403, response.text


async def test_a_disabled_client_is_refused_at_once_despite_the_cache(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway(auth={"client_cache_seconds": 3600})
    token = await gateway.token(["legal_entities:read"], client_id="to-disable-now")
    assert (await gateway.anonymous.get("/v1/legal-entities", headers=bearer(token))).is_success
    async with gateway.sessionmaker() as session:
        await clients.disable_client(session, "to-disable-now")
        await session.commit()
    response = await gateway.anonymous.get("/v1/legal-entities", headers=bearer(token))
    assert response.status_code == 401, response.text


def counting_status_reads(gateway: Gateway) -> list[str]:
    """The clients whose status `gateway` reads from the database, in turn."""
    reader = gateway.app.state.auth.statuses
    read = reader.status
    reads: list[str] = []

    async def recording(client_id: str) -> str | None:
        reads.append(client_id)
        return await read(client_id)

    reader.status = recording
    return reads


async def test_a_client_disabled_is_refused_by_every_gateway_sharing_redis_without_a_read_before(
    make_gateway: GatewayFactory,
) -> None:
    """Counting in Redis, a known active client's status is not read per request; once
    its disablement is committed and announced, every gateway refuses its next request."""
    try:
        await aioredis.from_url(REDIS_URL).ping()
    except (OSError, RedisError) as error:
        service_missing("Redis", f"{REDIS_URL}: {error}")
    shared = {"rate_limit_storage_url": REDIS_URL, "auth": {"client_cache_seconds": 3600}}
    first, second = await make_gateway(**shared), await make_gateway(**shared)
    client_id = f"to-disable-{uuid.uuid4().hex[:8]}"
    token = await first.token(["legal_entities:read"], client_id=client_id)
    reads = counting_status_reads(second)
    for gateway in (first, second, second, second, second):
        response = await gateway.anonymous.get("/v1/legal-entities", headers=bearer(token))
        assert response.is_success, response.text
    # The grant read with the token's verification, the status once more under the version
    # the next request read (a new token is not counted in the same round trip), then none.
    assert reads == [client_id]
    async with first.sessionmaker() as session:
        await clients.disable_client(session, client_id)
        await session.commit()
    assert await announce_status_change(REDIS_URL)
    for gateway in (second, first):
        response = await gateway.anonymous.get("/v1/legal-entities", headers=bearer(token))
        assert response.status_code == 401, response.text
    assert reads == [client_id, client_id]


async def test_a_status_read_on_a_connection_the_server_dropped_is_made_again(
    gateway: Gateway,
) -> None:
    """The status reader pings nothing before a read: a dropped connection fails the read,
    which is made once more on a fresh one, so the request still gets its answer."""
    reader = gateway.app.state.auth.statuses
    if reader.engine.dialect.name != "postgresql":
        pytest.skip("a server dropping connections is PostgreSQL's")
    assert await reader.status("test-platform") == ClientStatus.ACTIVE  # a pooled connection
    async with gateway.sessionmaker() as session:
        dropped = await session.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    assert dropped
    assert await reader.status("test-platform") == ClientStatus.ACTIVE
    # The gateway's own pool may meet its dropped connection in use: a retryable 503 once.
    first = await gateway.client.get("/v1/legal-entities")
    assert first.status_code in (200, 503), first.text
    assert (await gateway.client.get("/v1/legal-entities")).status_code == 200


async def test_signing_keys_are_not_stored_in_plain_text(gateway: Gateway) -> None:
    key = gateway.app.state.auth.ring.signing_key()
    private_d = key.as_dict(private=True)["d"]
    async with gateway.sessionmaker() as session:
        stored = (await session.scalars(select(SigningKeyRow))).all()
        raw = (await session.execute(text("SELECT * FROM signing_keys"))).all()
    assert stored
    dumped = repr(raw)
    assert private_d not in dumped
    assert "PRIVATE" not in dumped
    assert all(row.private_jwk_encrypted.startswith("gAAAA") for row in stored)


async def test_unknown_client_and_wrong_secret_get_the_same_answer(gateway: Gateway) -> None:
    async with gateway.sessionmaker() as session:
        row, _ = await clients.create_client(session, name="t", scopes={"invoices:read"})
        await session.commit()
    answers = []
    for client_id in (row.id, "no-such-client"):
        for send in ("basic", "post"):
            data = {"grant_type": "client_credentials"}
            kwargs: dict[str, Any] = {}
            if send == "basic":
                kwargs["auth"] = (client_id, "wrong")
            else:
                data |= {"client_id": client_id, "client_secret": "wrong"}
            response = await gateway.anonymous.post("/oauth/token", data=data, **kwargs)
            body = response.json()
            answers.append(
                (response.status_code, body["type"], body["error"], body["error_description"])
            )
    assert len(set(answers)) == 1, answers
    assert answers[0][:3] == (401, answers[0][1], "invalid_client")


async def test_a_disabled_client_gets_the_same_answer_as_an_unknown_one(gateway: Gateway) -> None:
    async with gateway.sessionmaker() as session:
        row, secret = await clients.create_client(session, name="t", scopes={"invoices:read"})
        row.status = ClientStatus.DISABLED
        await session.commit()
    disabled = await gateway.anonymous.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(row.id, secret)
    )
    unknown = await gateway.anonymous.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=("nobody", secret)
    )
    assert disabled.status_code == unknown.status_code == 401
    assert disabled.json()["error_description"] == unknown.json()["error_description"]


async def test_a_known_but_ungranted_scope_is_invalid_scope(gateway: Gateway) -> None:
    async with gateway.sessionmaker() as session:
        row, secret = await clients.create_client(session, name="t", scopes={"invoices:read"})
        await session.commit()
    response = await gateway.anonymous.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "invoices:read ops:write"},
        auth=(row.id, secret),
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_scope"
    assert "access_token" not in response.json()
