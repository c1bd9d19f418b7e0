"""`POST /oauth/token` (RFC 6749 client credentials, served by authlib) and the JWKS.

authlib's authorization server validates the grant, authenticates the client
(`client_secret_basic` or `client_secret_post`) and checks the requested scopes; we
give it the client record, fetched asynchronously beforehand, and a generator that
signs our JWT. Errors keep RFC 6749's `error`/`error_description` members inside a
problem+json document.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote

import anyio
from authlib.oauth2.rfc6749 import AuthorizationServer, ClientMixin, OAuth2Request
from authlib.oauth2.rfc6749.errors import InvalidScopeError
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from app.governance.auth.keys import KeyRing
from app.governance.auth.secrets import verify_secret
from app.governance.auth.tokens import issue_token
from app.governance.metrics import AUTH_FAILURES
from core.errors import problem_type
from core.models.api_client import ApiClientRow, ClientStatus
from core.models.base import utcnow
from core.problems import PROBLEM_MEDIA_TYPE, problem_document, problem_responses
from core.scopes import PARTNER_SCOPES, SCOPES

logger = logging.getLogger(__name__)

# authlib refuses plain-http URIs; TLS is terminated in front of the gateway.
TOKEN_ENDPOINT = "https://ledgergate/oauth/token"
MAX_FORM_BYTES = 4096
# Checked against when the client is unknown or disabled, so that answer costs the same
# time as a wrong secret for a client with a generated secret (one SHA-256) and the two
# cannot be told apart. The digest of a random secret thrown away when it was made.
_NOBODY_SECRET_HASH = "sha256$KcSsZ36ocvsxQqFowumxeQdwydVVtm3okiCaneJ8g6U="

INVALID_CLIENT_DESCRIPTION = "client authentication failed"


class _Client(ClientMixin):  # type: ignore[misc]
    def __init__(self, row: ApiClientRow, *, authenticates: bool = True) -> None:
        self.row = row
        self.authenticates = authenticates

    @property
    def granted(self) -> frozenset[str]:
        """The client's grant; a partner-bound client's only partner scopes."""
        granted = frozenset(self.row.scopes)
        return granted if self.row.partner_id is None else granted & PARTNER_SCOPES

    def get_client_id(self) -> str:
        return self.row.id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        """The requested scopes (all granted, as checked before), or the whole grant."""
        return " ".join(sorted(scope.split() if scope else self.granted))

    def check_redirect_uri(self, redirect_uri: str) -> bool:  # noqa: ARG002 - no redirects
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        row = self.row
        if not self.authenticates:
            verify_secret(client_secret, _NOBODY_SECRET_HASH)
            return False
        if verify_secret(client_secret, row.secret_hash):
            return True
        in_grace = row.previous_secret_expires_at is not None and (
            row.previous_secret_expires_at > utcnow()
        )
        return bool(in_grace and row.previous_secret_hash) and verify_secret(
            client_secret, row.previous_secret_hash or ""
        )

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:  # noqa: ARG002 - token only
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials" and self.row.status == ClientStatus.ACTIVE


class _TokenRequest(OAuth2Request):  # type: ignore[misc]
    """An OAuth2 request over an already parsed form body."""

    def __init__(self, form: dict[str, str], headers: Mapping[str, str]) -> None:
        super().__init__("POST", TOKEN_ENDPOINT, headers=headers)
        self.payload = BasicOAuth2Payload(form)
        self._form = form

    @property
    def form(self) -> dict[str, str]:
        return self._form


class _TokenServer(AuthorizationServer):  # type: ignore[misc]
    """One per token request: it answers for the single client fetched for that request."""

    def __init__(self, client: ApiClientRow | None, issue: Any) -> None:
        super().__init__(scopes_supported=list(SCOPES))
        self._client = client
        ClientCredentialsGrant.TOKEN_ENDPOINT_AUTH_METHODS = [
            "client_secret_basic",
            "client_secret_post",
        ]
        self.register_grant(ClientCredentialsGrant)
        self.register_token_generator("default", issue)

    def query_client(self, client_id: str) -> _Client:
        """The client; an unknown or disabled one fails authentication like a wrong secret."""
        row = self._client
        if row is None or row.id != client_id:
            return _Client(ApiClientRow(id=client_id, scopes=[]), authenticates=False)
        return _Client(row, authenticates=row.status == ClientStatus.ACTIVE)

    def validate_requested_scope(self, scope: str | None) -> None:
        """RFC 6749 §5.2 `invalid_scope`: a scope the client is not granted is refused."""
        requested = set(scope.split()) if scope else set()
        granted = _Client(self._client).granted if self._client is not None else frozenset()
        if requested - granted:
            raise InvalidScopeError(
                description=f"not granted to this client: {' '.join(sorted(requested - granted))}"
            )
        if not requested and not granted:
            raise InvalidScopeError(description="this client is granted no scope")

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """Access tokens are self-contained JWTs: nothing to store."""

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        return request

    def handle_response(
        self, status: int, body: dict[str, Any], headers: list[tuple[str, str]]
    ) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        return status, body, headers

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No signal receivers."""


def _client_id(form: dict[str, str], authorization: str | None) -> str | None:
    if authorization and authorization.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return unquote(decoded.partition(":")[0])
    return form.get("client_id")


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = Field(examples=["Bearer"])
    expires_in: int
    scope: str


def build_router() -> APIRouter:
    router = APIRouter(tags=["auth"])

    @router.post(
        "/oauth/token",
        response_model=TokenResponse,
        operation_id="auth-token",
        summary="Issue an access token",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/x-www-form-urlencoded": {
                        "schema": {
                            "type": "object",
                            "required": ["grant_type"],
                            "properties": {
                                "grant_type": {"type": "string", "enum": ["client_credentials"]},
                                "scope": {"type": "string"},
                                "client_id": {"type": "string"},
                                "client_secret": {"type": "string"},
                            },
                        }
                    }
                },
            }
        },
        responses=problem_responses(400, 401, 413, 415, 429),
    )
    async def token(request: Request) -> JSONResponse:
        """OAuth2 client credentials grant: a short-lived JWT for the client's scopes."""
        limiter = request.app.state.rate_limiter
        await limiter.enforce_ip(request, policy="token", limit=limiter.settings.token)
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/x-www-form-urlencoded":
            return _problem(
                request,
                415,
                "unsupported-media-type",
                "Unsupported media type",
                "send the token request as application/x-www-form-urlencoded",
            )
        body = await request.body()
        try:
            form = dict(parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=False))
        except UnicodeDecodeError:
            form = {}
        context = request.app.state.auth
        client_id = _client_id(form, request.headers.get("authorization"))
        client = None
        if client_id:
            async with context.sessionmaker() as session:
                client = await session.get(ApiClientRow, client_id)

        def issue(*, client: _Client, scope: str | None = None, **_: Any) -> dict[str, Any]:
            row = client.row
            scopes = client.get_allowed_scope(
                scope
            ).split()  # requested (all granted), or the grant
            token, ttl = issue_token(
                context.ring,
                context.settings,
                client_id=row.id,
                scopes=scopes,
                partner_id=row.partner_id,
                tier=row.tier,
            )
            return {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": ttl,
                "scope": " ".join(scopes),
            }

        oauth_request = _TokenRequest(form, request.headers)  # case-insensitive, as authlib needs
        server = _TokenServer(client, issue)
        await context.ring.refresh_if_stale()
        status, payload, headers = await anyio.to_thread.run_sync(
            server.create_token_response, oauth_request
        )
        if status == 200:
            return JSONResponse(payload, headers=dict(headers))
        logger.info(
            "auth.token.refused", extra={"client_id": client_id, "error": payload.get("error")}
        )
        AUTH_FAILURES.labels(f"token_{payload.get('error', 'error')}").inc()
        request.state.audit_refusal = {"client_id": client_id}
        if payload.get("error") == "invalid_client":
            payload["error_description"] = INVALID_CLIENT_DESCRIPTION
        extra = {k: v for k, v in dict(headers).items() if k.lower() == "www-authenticate"}
        return _problem(
            request,
            status,
            "oauth-" + str(payload.get("error", "error")).replace("_", "-"),
            "Token request refused",
            str(payload.get("error_description") or payload.get("error")),
            headers=extra,
            error=payload.get("error"),
            error_description=payload.get("error_description"),
        )

    @router.get(
        "/.well-known/jwks.json",
        operation_id="auth-jwks",
        summary="Token signing keys",
        response_model=dict[str, list[dict[str, Any]]],
    )
    async def jwks(request: Request) -> JSONResponse:
        """The public keys that verify Ledgergate's access tokens (JWKS, RFC 7517)."""
        limiter = request.app.state.rate_limiter
        await limiter.enforce_ip(request, policy="anonymous", limit=limiter.settings.anonymous)
        ring: KeyRing = request.app.state.auth.ring
        await ring.refresh_if_stale()
        return JSONResponse(ring.jwks(), headers={"Cache-Control": "public, max-age=300"})

    return router


def _problem(
    request: Request,
    status: int,
    slug: str,
    title: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    document = problem_document(
        type_uri=problem_type(slug),
        title=title,
        status=status,
        detail=detail,
        instance=request.url.path,
        correlation_id=getattr(request.state, "correlation_id", None),
        **{k: v for k, v in extensions.items() if v is not None},
    )
    return JSONResponse(
        document, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE
    )
