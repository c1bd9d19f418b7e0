"""A small OpenID Connect provider for tests: authorization code with PKCE (S256) only."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

from joserfc import jwk, jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

ISSUER = "https://idp.test"
CLIENT_ID = "ledgergate-console"


@dataclass
class IdentityProvider:
    """Signs in `person` with `roles`; refuses a code twice or a verifier that does not match."""

    person: str = "pia"
    roles: list[str] = field(default_factory=lambda: ["finance-ops"])
    key: jwk.ECKey = field(default_factory=lambda: jwk.ECKey.generate_key("P-256"))
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    nonce_override: str | None = None

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.metadata),
                Route("/authorize", self.authorize),
                Route("/token", self.token, methods=["POST"]),
                Route("/jwks", self.jwks),
            ]
        )

    async def metadata(self, _: Request) -> Response:
        return JSONResponse(
            {
                "issuer": ISSUER,
                "authorization_endpoint": f"{ISSUER}/authorize",
                "token_endpoint": f"{ISSUER}/token",
                "jwks_uri": f"{ISSUER}/jwks",
                "code_challenge_methods_supported": ["S256"],
            }
        )

    async def authorize(self, request: Request) -> Response:
        params = dict(request.query_params)
        if params.get("code_challenge_method") != "S256" or params.get("client_id") != CLIENT_ID:
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        code = secrets.token_urlsafe(16)
        self.codes[code] = params
        query = urlencode({"code": code, "state": params["state"]})
        return RedirectResponse(f"{params['redirect_uri']}?{query}", status_code=302)

    async def token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        granted = self.codes.pop(str(form.get("code")), None)
        verifier = str(form.get("code_verifier", "")).encode()
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=")
        if (
            granted is None
            or challenge.decode() != granted["code_challenge"]
            or form.get("redirect_uri") != granted["redirect_uri"]
        ):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": CLIENT_ID,
            "sub": f"sub-{self.person}",
            "preferred_username": self.person,
            "roles": self.roles,
            "nonce": self.nonce_override or granted["nonce"],
            "iat": now,
            "exp": now + 300,
        }
        id_token = jwt.encode({"alg": "ES256", "kid": "k1"}, claims, self.key)
        return JSONResponse({"access_token": "at", "token_type": "Bearer", "id_token": id_token})

    async def jwks(self, _: Request) -> Response:
        public = self.key.as_dict(private=False)
        return JSONResponse({"keys": [{**public, "kid": "k1", "alg": "ES256", "use": "sig"}]})
