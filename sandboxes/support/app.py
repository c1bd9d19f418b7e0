"""The Desk API's routes under its root."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import Mount, Route

from sandboxes.faults import install_faults
from sandboxes.support.accounts import get_account, set_account_status
from sandboxes.support.entitlements import (
    change_entitlement,
    grant_entitlement,
    list_entitlements,
    revoke_entitlement,
)
from sandboxes.support.service_credits import (
    create_service_credit,
    decide_service_credit,
    get_service_credit,
    list_service_credits,
)
from sandboxes.support.state import DeskState
from sandboxes.support.tickets import create_ticket, get_ticket
from sandboxes.support.wire import API_ROOT, DESK


def create_app(state: DeskState | None = None) -> Starlette:
    """The sandbox as an ASGI app; pass a `DeskState` to inspect or seed it."""
    endpoint = DESK.endpoint
    routes = [
        Route("/customers/{ref}/entitlements", endpoint(list_entitlements), methods=["GET"]),
        Route(
            "/customers/{ref}/entitlements",
            endpoint(grant_entitlement, keyed=True),
            methods=["POST"],
        ),
        Route("/customers/{ref}/account", endpoint(get_account), methods=["GET"]),
        Route("/customers/{ref}/account", endpoint(set_account_status), methods=["PUT"]),
        Route("/entitlements/{id}", endpoint(change_entitlement), methods=["PATCH"]),
        Route("/entitlements/{id}", endpoint(revoke_entitlement), methods=["DELETE"]),
        Route("/tickets", endpoint(create_ticket, keyed=True), methods=["POST"]),
        Route("/tickets/{id}", endpoint(get_ticket), methods=["GET"]),
        Route(
            "/tickets/{id}/service_credits",
            endpoint(create_service_credit, keyed=True),
            methods=["POST"],
        ),
        Route("/service_credits", endpoint(list_service_credits), methods=["GET"]),
        Route("/service_credits/{id}", endpoint(get_service_credit), methods=["GET"]),
        Route("/service_credits/{id}/decision", endpoint(decide_service_credit), methods=["POST"]),
    ]
    app = Starlette(
        routes=[Mount(API_ROOT, routes=routes)],
        exception_handlers={HTTPException: DESK.not_found},
    )
    app.state.desk = state if state is not None else DeskState()
    install_faults(app, "support")  # tests, demos and benchmarks only: see sandboxes.faults
    return app
