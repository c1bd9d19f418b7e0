"""The Channel API's routes under its root."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from sandboxes.crm.accounts import get_account, set_account_status
from sandboxes.crm.commission_plans import add_rate_card, get_plan
from sandboxes.crm.deal_registrations import (
    create_registration,
    decide,
    get_registration,
    list_registrations,
)
from sandboxes.crm.partners import check_eligibility, get_partner, list_partners
from sandboxes.crm.quotes import accept_quote, create_quote, get_quote
from sandboxes.crm.state import CrmState, seeded_state
from sandboxes.crm.webhooks import deliver_events
from sandboxes.crm.wire import API_ROOT, CHANNEL
from sandboxes.faults import install_faults
from sandboxes.json_api import Endpoint


def create_app(state: CrmState | None = None) -> Starlette:
    """The sandbox as an ASGI app; without a state, the seeded demo channel."""
    endpoint = CHANNEL.endpoint
    routes = [
        Route("/accounts/{ref}/status", endpoint(get_account), methods=["GET"]),
        Route("/accounts/{ref}/status", endpoint(set_account_status), methods=["PUT"]),
        Route("/partners", endpoint(list_partners), methods=["GET"]),
        Route("/partners/{ref}", endpoint(get_partner), methods=["GET"]),
        Route("/partners/{ref}/eligibility", endpoint(check_eligibility), methods=["GET"]),
        Route("/commission-plans/{code}", endpoint(get_plan), methods=["GET"]),
        Route(
            "/commission-plans/{code}/rate-cards",
            endpoint(add_rate_card, keyed=True),
            methods=["POST"],
        ),
        Route("/deal-registrations", endpoint(create_registration, keyed=True), methods=["POST"]),
        Route("/deal-registrations", endpoint(list_registrations), methods=["GET"]),
        Route("/deal-registrations/{id}", endpoint(get_registration), methods=["GET"]),
        Route("/deal-registrations/{id}/approve", endpoint(decide("approved")), methods=["POST"]),
        Route("/deal-registrations/{id}/reject", endpoint(decide("rejected")), methods=["POST"]),
        Route("/quotes", endpoint(create_quote, keyed=True), methods=["POST"]),
        Route("/quotes/{id}", endpoint(get_quote), methods=["GET"]),
        Route("/quotes/{id}/accept", _sending(endpoint(accept_quote)), methods=["POST"]),
    ]
    app = Starlette(
        routes=[Mount(API_ROOT, routes=routes)],
        exception_handlers={HTTPException: CHANNEL.not_found},
    )
    app.state.crm = state if state is not None else seeded_state()
    install_faults(app, "crm")  # tests, demos and benchmarks only: see sandboxes.faults
    return app


def _sending(endpoint: Endpoint) -> Endpoint:
    """The endpoint, then the events it recorded sent to the webhook endpoints after the
    answer."""

    async def send(request: Request) -> Response:
        response = await endpoint(request)
        state: CrmState = request.app.state.crm
        events, state.outbox = state.outbox, []
        if events and state.webhook_endpoints:
            response.background = BackgroundTask(deliver_events, state, events)
        return response

    return send
