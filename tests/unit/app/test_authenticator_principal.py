"""A verified token's principal is made once per token and client grant."""

from __future__ import annotations

from typing import Any

import pytest

from app.governance.auth.authenticator import ClientSnapshot, GatewayAuthenticator
from app.governance.auth.tokens import VerifiedToken
from core.auth import Unauthorized
from core.settings import AuthSettings

CLAIMS = {"client_id": "acme", "scope": "invoices:read invoices:write", "tier": "gold"}


def authenticator() -> GatewayAuthenticator:
    return GatewayAuthenticator(None, None, AuthSettings(), None)  # type: ignore[arg-type]


def grant(*scopes: str) -> ClientSnapshot:
    return ClientSnapshot(scopes=frozenset(scopes), partner_id=None, money_limits={})


def principal(auth: GatewayAuthenticator, token: VerifiedToken, client: Any) -> Any:
    return auth._principal_with(token, client)


def test_the_same_token_and_grant_give_the_same_principal() -> None:
    auth, token, client = (
        authenticator(),
        VerifiedToken(dict(CLAIMS), False),
        grant("invoices:read"),
    )
    first = principal(auth, token, client)
    assert (first.client_id, first.scopes, first.tier) == ("acme", {"invoices:read"}, "gold")
    assert principal(auth, token, client) is first


def test_a_new_grant_or_token_makes_a_new_principal() -> None:
    auth, token = authenticator(), VerifiedToken(dict(CLAIMS), False)
    assert principal(auth, token, grant("invoices:read")).scopes == {"invoices:read"}
    revoked = principal(auth, token, grant())
    assert revoked.scopes == frozenset()
    other = VerifiedToken({**CLAIMS, "scope": "invoices:write"}, False)
    assert principal(auth, other, grant("invoices:write")).scopes == {"invoices:write"}


def test_a_disabled_client_is_refused_every_time() -> None:
    auth, token = authenticator(), VerifiedToken(dict(CLAIMS), False)
    for _ in range(2):
        with pytest.raises(Unauthorized):
            principal(auth, token, None)
