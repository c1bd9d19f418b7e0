"""Sign-in through the organization's OpenID Connect provider: authorization code + PKCE.

The provider's metadata and keys are discovered from the issuer. The state, nonce and
PKCE verifier of a sign-in under way travel in a short-lived HttpOnly cookie scoped to
the callback; the ID token is verified (signature, issuer, audience, expiry, nonce)
before its role claim is mapped to a console role.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwk, jwt
from joserfc.errors import JoseError

from app.experience.console.errors import NoConsoleRole, SignInFailed
from app.experience.console.roles import strongest
from core.settings import ConsoleSettings

ALGORITHMS = ["RS256", "ES256", "PS256", "EdDSA"]
LEEWAY_SECONDS = 60


@dataclass(frozen=True)
class PendingSignIn:
    state: str
    nonce: str
    verifier: str


@dataclass(frozen=True)
class Identity:
    name: str
    role: str


class OidcClient:
    def __init__(
        self, settings: ConsoleSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        assert settings.oidc_issuer is not None
        assert settings.oidc_client_id is not None
        self.settings = settings
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.client_id = settings.oidc_client_id
        self.transport = transport
        self._metadata: dict[str, Any] | None = None

    def _http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self.transport, timeout=10.0)

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            async with self._http() as http:
                response = await http.get(f"{self.issuer}/.well-known/openid-configuration")
                response.raise_for_status()
                self._metadata = dict(response.json())
        return self._metadata

    async def start(self, redirect_uri: str) -> tuple[str, PendingSignIn]:
        """The provider's authorization URL, and what the callback must find again."""
        pending = PendingSignIn(
            state=secrets.token_urlsafe(24),
            nonce=secrets.token_urlsafe(24),
            verifier=secrets.token_urlsafe(48),
        )
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": redirect_uri,
                "scope": "openid profile",
                "state": pending.state,
                "nonce": pending.nonce,
                "code_challenge": create_s256_code_challenge(pending.verifier),
                "code_challenge_method": "S256",
            }
        )
        return f"{(await self.metadata())['authorization_endpoint']}?{query}", pending

    async def finish(self, *, code: str, redirect_uri: str, pending: PendingSignIn) -> Identity:
        """Exchange the code, verify the ID token and map its role claim."""
        metadata = await self.metadata()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": self.client_id,
            "code_verifier": pending.verifier,
        }
        secret = self.settings.oidc_client_secret
        # A confidential client authenticates with HTTP Basic; a public one by PKCE alone.
        auth = httpx.BasicAuth(self.client_id, secret.get_secret_value()) if secret else None
        try:
            async with self._http() as http:
                token = await http.post(
                    metadata["token_endpoint"], data=form, auth=auth or httpx.USE_CLIENT_DEFAULT
                )
                token.raise_for_status()
                keys = await http.get(metadata["jwks_uri"])
                keys.raise_for_status()
            id_token = token.json()["id_token"]
            claims = self._verified(id_token, jwk.KeySet.import_key_set(keys.json()), pending)
        except (httpx.HTTPError, KeyError, ValueError, JoseError) as error:
            raise SignInFailed(f"the identity provider's sign-in failed: {error!r}") from error
        return self._identity(claims)

    def _verified(self, id_token: str, keys: jwk.KeySet, pending: PendingSignIn) -> dict[str, Any]:
        decoded = jwt.decode(id_token, keys, algorithms=ALGORITHMS)
        jwt.JWTClaimsRegistry(
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.client_id},
            exp={"essential": True},
            nonce={"essential": True, "value": pending.nonce},
        ).validate(decoded.claims)
        return dict(decoded.claims)

    def _identity(self, claims: dict[str, Any]) -> Identity:
        granted = claims.get(self.settings.oidc_role_claim) or []
        granted = [granted] if isinstance(granted, str) else list(granted)
        mapping = self.settings.oidc_role_mapping
        role = strongest({mapping[g] for g in granted if isinstance(g, str) and g in mapping})
        name = claims.get(self.settings.oidc_name_claim) or claims.get("sub")
        if role is None or not isinstance(name, str):
            raise NoConsoleRole(
                "none of this person's roles maps to a console role",
                roles=[g for g in granted if isinstance(g, str)],
            )
        return Identity(name=name[:80], role=role)
