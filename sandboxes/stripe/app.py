"""The HTTP layer: authentication, parameter decoding, idempotent replay, the routes."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandboxes.faults import install_faults
from sandboxes.stripe.charges import (
    close_dispute,
    create_refund,
    retrieve_charge,
    retrieve_dispute,
)
from sandboxes.stripe.credit_notes import (
    create_credit_note,
    list_credit_notes,
    preview_credit_note,
    retrieve_credit_note,
)
from sandboxes.stripe.customers import (
    create_customer,
    list_customers,
    retrieve_customer,
    update_customer,
)
from sandboxes.stripe.events import deliver_events
from sandboxes.stripe.invoices import (
    create_invoice,
    create_invoice_item,
    finalize_invoice,
    list_invoices,
    pay_invoice,
    retrieve_invoice,
    void_invoice,
)
from sandboxes.stripe.products import (
    create_price,
    create_product,
    list_prices,
    list_products,
    retrieve_price,
    retrieve_product,
)
from sandboxes.stripe.state import RequestContext, StoredResponse, StripeState
from sandboxes.stripe.subscriptions import (
    advance_subscriptions,
    cancel_subscription,
    create_subscription,
    retrieve_subscription,
    update_subscription,
)
from sandboxes.stripe.test_clocks import (
    advance_test_clock,
    create_test_clock,
    retrieve_test_clock,
)
from sandboxes.stripe.upcoming import upcoming_invoice
from sandboxes.stripe.usage_records import create_usage_record, list_usage_record_summaries
from sandboxes.stripe.wire import (
    API_VERSION,
    Call,
    JsonObject,
    Params,
    StripeApiError,
    decode_form,
    new_object_id,
)

Operation = Callable[[StripeState, Call], JsonObject]


def _authenticate(request: Request) -> str:
    """The secret key of the request; Stripe answers `401 invalid_request_error` without one."""
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key:
        raise StripeApiError(
            401,
            "You did not provide an API key. You need to provide your API key in the "
            "Authorization header, using Bearer auth "
            "(e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
        )
    if not key.startswith("sk_test_"):
        raise StripeApiError(401, f"Invalid API Key provided: {key[:8]}{'*' * 8}{key[-4:]}")
    return key


def _answer(
    request: Request, status: int, body: JsonObject, request_id: str, **headers: str
) -> Response:
    headers = {
        "Request-Id": request_id,
        "Stripe-Version": request.headers.get("Stripe-Version", API_VERSION),
        **headers,
    }
    return JSONResponse(body, status_code=status, headers=headers)


def _endpoint(operation: Operation) -> Callable[[Request], Awaitable[Response]]:
    """Wrap an operation with authentication, parameter decoding and idempotency.

    Before it runs, subscriptions are billed for the periods the clock has passed;
    the events it caused are sent to the webhook endpoints after the answer.
    """

    async def handle(request: Request) -> Response:
        state: StripeState = request.app.state.stripe
        request_id = new_object_id("req")
        try:
            api_key = _authenticate(request)
            # Stripe's libraries send DELETE parameters in the query; its spec, in a body.
            body = (await request.body()).decode(errors="replace")
            params = decode_form(body if request.method == "POST" or body else request.url.query)
        except StripeApiError as exc:
            return _answer(request, exc.status, exc.body(), request_id)
        advance_subscriptions(state)
        key = request.headers.get("Idempotency-Key") if request.method == "POST" else None
        state.request = RequestContext(request_id, key)
        try:
            if key is None:
                response = _run(request, operation, state, params, request_id)
            else:
                scoped_key = (api_key, key)
                response = _run_idempotent(
                    request, operation, state, params, request_id, scoped_key
                )
        finally:
            state.request = None
        events, state.outbox = state.outbox, []
        if events and state.webhook_endpoints:
            if state.webhook_tasks is None:
                response.background = BackgroundTask(deliver_events, state, events)
            else:
                task = asyncio.create_task(deliver_events(state, events))
                state.webhook_tasks.add(task)
                task.add_done_callback(state.webhook_tasks.discard)
        return response

    return handle


def _run(
    request: Request,
    operation: Operation,
    state: StripeState,
    params: Params,
    request_id: str,
    **headers: str,
) -> Response:
    try:
        body = operation(state, Call(params, request.path_params))
    except StripeApiError as exc:
        return _answer(request, exc.status, exc.body(), request_id, **headers)
    return _answer(request, 200, body, request_id, **headers)


def _run_idempotent(
    request: Request,
    operation: Operation,
    state: StripeState,
    params: Params,
    request_id: str,
    scoped_key: tuple[str, str],
) -> Response:
    """Stripe's idempotency: the first result is stored per key and replayed after.

    The same key on another endpoint, or with other parameters, is an
    `idempotency_error`. Requests refused with a `parameter_*` code did not start
    executing, so they are not stored and the key stays free.
    """
    key = scoped_key[1]
    endpoint = f"{request.method} {request.url.path}"
    stored = state.idempotent_responses.get(scoped_key)
    if stored is not None:
        if stored.endpoint != endpoint:
            error = StripeApiError(
                400,
                "Keys for idempotent requests can only be used for the same endpoint they were "
                f"first used for ('{stored.endpoint}' vs '{endpoint}'). Try using a key other "
                f"than '{key}' if you meant to execute a different request.",
                type_="idempotency_error",
            )
        elif stored.params != params:
            error = StripeApiError(
                400,
                "Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with. Try using a key other than '{key}' if you meant to "
                "execute a different request.",
                type_="idempotency_error",
            )
        else:
            return _answer(
                request,
                stored.status,
                stored.body,
                request_id,
                **{
                    "Idempotency-Key": key,
                    "Idempotent-Replayed": "true",
                    "Original-Request": stored.request_id,
                },
            )
        return _answer(request, error.status, error.body(), request_id)
    try:
        status, body = 200, operation(state, Call(params, request.path_params))
    except StripeApiError as exc:
        if exc.is_parameter_error:
            return _answer(request, exc.status, exc.body(), request_id)
        status, body = exc.status, exc.body()
    state.idempotent_responses[scoped_key] = StoredResponse(
        endpoint=endpoint,
        params=params,
        status=status,
        body=copy.deepcopy(body),
        request_id=request_id,
    )
    return _answer(request, status, body, request_id, **{"Idempotency-Key": key})


async def _unrecognized_url(request: Request, _exc: Exception) -> Response:
    """Stripe answers an unknown path or method with a `404 invalid_request_error`."""
    error = StripeApiError(404, f"Unrecognized request URL ({request.method}: {request.url.path}).")
    return _answer(request, error.status, error.body(), new_object_id("req"))


def create_app(state: StripeState | None = None) -> Starlette:
    """The sandbox as an ASGI app; pass a `StripeState` to inspect or seed it."""
    routes = [
        Route("/v1/customers", _endpoint(create_customer), methods=["POST"]),
        Route("/v1/customers", _endpoint(list_customers), methods=["GET"]),
        Route("/v1/customers/{customer}", _endpoint(retrieve_customer), methods=["GET"]),
        Route("/v1/customers/{customer}", _endpoint(update_customer), methods=["POST"]),
        Route("/v1/invoiceitems", _endpoint(create_invoice_item), methods=["POST"]),
        Route("/v1/invoices", _endpoint(create_invoice), methods=["POST"]),
        Route("/v1/invoices", _endpoint(list_invoices), methods=["GET"]),
        Route("/v1/invoices/upcoming", _endpoint(upcoming_invoice), methods=["GET"]),
        Route("/v1/invoices/{invoice}", _endpoint(retrieve_invoice), methods=["GET"]),
        Route("/v1/invoices/{invoice}/finalize", _endpoint(finalize_invoice), methods=["POST"]),
        Route("/v1/invoices/{invoice}/pay", _endpoint(pay_invoice), methods=["POST"]),
        Route("/v1/invoices/{invoice}/void", _endpoint(void_invoice), methods=["POST"]),
        Route("/v1/products", _endpoint(create_product), methods=["POST"]),
        Route("/v1/products", _endpoint(list_products), methods=["GET"]),
        Route("/v1/products/{id}", _endpoint(retrieve_product), methods=["GET"]),
        Route("/v1/prices", _endpoint(create_price), methods=["POST"]),
        Route("/v1/prices", _endpoint(list_prices), methods=["GET"]),
        Route("/v1/prices/{price}", _endpoint(retrieve_price), methods=["GET"]),
        Route("/v1/subscriptions", _endpoint(create_subscription), methods=["POST"]),
        Route(
            "/v1/subscriptions/{subscription_exposed_id}",
            _endpoint(retrieve_subscription),
            methods=["GET"],
        ),
        Route(
            "/v1/subscriptions/{subscription_exposed_id}",
            _endpoint(update_subscription),
            methods=["POST"],
        ),
        Route(
            "/v1/subscriptions/{subscription_exposed_id}",
            _endpoint(cancel_subscription),
            methods=["DELETE"],
        ),
        Route(
            "/v1/subscription_items/{subscription_item}/usage_records",
            _endpoint(create_usage_record),
            methods=["POST"],
        ),
        Route(
            "/v1/subscription_items/{subscription_item}/usage_record_summaries",
            _endpoint(list_usage_record_summaries),
            methods=["GET"],
        ),
        Route("/v1/credit_notes", _endpoint(create_credit_note), methods=["POST"]),
        Route("/v1/credit_notes", _endpoint(list_credit_notes), methods=["GET"]),
        Route("/v1/credit_notes/preview", _endpoint(preview_credit_note), methods=["GET"]),
        Route("/v1/credit_notes/{id}", _endpoint(retrieve_credit_note), methods=["GET"]),
        Route("/v1/charges/{charge}", _endpoint(retrieve_charge), methods=["GET"]),
        Route("/v1/refunds", _endpoint(create_refund), methods=["POST"]),
        Route("/v1/disputes/{dispute}", _endpoint(retrieve_dispute), methods=["GET"]),
        Route("/v1/disputes/{dispute}/close", _endpoint(close_dispute), methods=["POST"]),
        Route("/v1/test_helpers/test_clocks", _endpoint(create_test_clock), methods=["POST"]),
        Route(
            "/v1/test_helpers/test_clocks/{test_clock}",
            _endpoint(retrieve_test_clock),
            methods=["GET"],
        ),
        Route(
            "/v1/test_helpers/test_clocks/{test_clock}/advance",
            _endpoint(advance_test_clock),
            methods=["POST"],
        ),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _unrecognized_url},
    )
    app.state.stripe = state or StripeState()
    install_faults(app, "billing")  # tests, demos and benchmarks only: see sandboxes.faults
    return app
