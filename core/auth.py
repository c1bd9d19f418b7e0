"""Who is calling, and the route-level declaration of what they must be allowed to do.

Routes in every tier declare `dependencies=[requires("invoices:post")]`; the edge
(`app.governance.auth`) provides the `Authenticator` that turns the request's
bearer token into a `Principal`. The scopes show in the OpenAPI document as the
operation's OAuth2 security requirement.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any, Protocol

from fastapi import Depends, Request, Security
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlows
from fastapi.security import OAuth2, SecurityScopes

from core.errors import LedgergateError
from core.scopes import SCOPES


class Unauthorized(LedgergateError):
    status_code = 401
    slug = "unauthorized"
    title = "Authentication required"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail, **extensions)
        self.headers = {"WWW-Authenticate": 'Bearer realm="ledgergate"'}


class Forbidden(LedgergateError):
    status_code = 403
    slug = "forbidden"
    title = "Not allowed"


class PartnerBindingRequired(Forbidden):
    slug = "partner-binding-required"
    title = "This API needs a partner-bound token"


class MoneyLimitExceeded(Forbidden):
    slug = "money-limit-exceeded"
    title = "The amount exceeds this client's limit for the action"


@dataclass(frozen=True)
class Principal:
    """An authenticated API client, as its token describes it."""

    client_id: str
    scopes: frozenset[str]
    partner_id: str | None = None
    tier: str = "standard"
    # Largest amount per action and currency in minor units: {"credit_memos:write": {"USD": 50000}}
    money_limits: dict[str, dict[str, int]] = field(default_factory=dict)

    def allows(self, scope: str) -> bool:
        return scope in self.scopes

    def check_money_limit(
        self, action: str, *, amount: int, currency: str, approver_scope: str | None = None
    ) -> None:
        """Refuse an amount over the client's limit for `action`, unless it may approve."""
        limit = self.money_limits.get(action, {}).get(currency)
        if limit is None or amount <= limit:
            return
        if approver_scope is not None and self.allows(approver_scope):
            return
        raise MoneyLimitExceeded(
            f"{amount} {currency} is over this client's {action} limit of {limit} {currency}"
            + (f"; a client with {approver_scope} must do it" if approver_scope else ""),
            action=action,
            limit=limit,
            currency=currency,
        )


ANONYMOUS = Principal(client_id="anonymous", scopes=frozenset())


def state_of(request: Request) -> dict[str, Any]:
    """The request's state (`request.state`'s own dictionary), without the `State` object
    and the calls each of its attributes costs."""
    state: dict[str, Any] = request.scope.setdefault("state", {})
    return state


def principal_of(request: Request) -> Principal:
    """The principal the edge authenticated for this request (anonymous when none)."""
    principal: Principal = state_of(request).get("principal") or ANONYMOUS
    return principal


class Authenticator(Protocol):
    async def authenticate(self, request: Request) -> Principal:
        """The caller's principal; raises `Unauthorized` or `Forbidden`."""
        ...


oauth2_scheme = OAuth2(
    flows=OAuthFlows(
        clientCredentials=OAuthFlowClientCredentials(tokenUrl="/oauth/token", scopes=SCOPES)
    ),
    scheme_name="OAuth2",
    description="OAuth2 client credentials: `POST /oauth/token`, then `Authorization: Bearer`.",
    auto_error=False,
)


async def authorize(request: Request, scopes: Iterable[str]) -> Principal:
    """The request's caller, who must hold every one of `scopes`; 401 or 403 otherwise.

    A request is authenticated once (and counted once against its client's rate limit),
    however many of its dependencies ask for a principal: a later one reuses it.
    """
    state = state_of(request)
    principal: Principal | None = state.get("authenticated")
    if principal is None:
        authenticator: Authenticator = request.app.state.authenticator
        principal = await authenticator.authenticate(request)
        state["authenticated"] = principal
    missing = sorted(set(scopes) - principal.scopes)
    if missing:
        raise Forbidden(
            f"this operation needs the scope {', '.join(missing)}", missing_scopes=missing
        )
    state["principal"] = principal
    state["client_id"] = principal.client_id
    return principal


async def current_principal(
    request: Request,
    security_scopes: SecurityScopes,
    _token: Annotated[str | None, Depends(oauth2_scheme)],
) -> Principal:
    return await authorize(request, security_scopes.scopes)


def requires(*scopes: str) -> Any:
    """A route dependency: an authenticated caller holding every one of `scopes`."""
    unknown = set(scopes) - SCOPES.keys()
    if unknown:
        raise ValueError(f"unknown scopes {sorted(unknown)}")
    return Security(current_principal, scopes=list(scopes))


PrincipalDep = Annotated[Principal, Depends(current_principal)]
