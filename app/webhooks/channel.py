"""`POST /webhooks/crm/channel`: the CRM's signed `quote.accepted` events, each a sales order.

A public route like Stripe's: the CRM signs each delivery with `Channel-Signature` under
`LEDGERGATE_CRM__WEBHOOK_SECRET`; one that cannot be verified, or is not an accepted
quote, is a `400` problem naming why. A verified event places the quote's sales order as
`POST /v1/orders` does (the same workflow and answers), keyed by the event id: the same
event again replays the first answer, and a redelivery after a failure of ours (a `5xx`)
runs again. The workflow itself places one order per quote, whichever way it arrives.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request, Response
from pydantic import ValidationError

from core.problems import problem_responses
from process_apis.deps import ContextDep
from process_apis.idempotency import IdempotencyStore, Outcome, run_idempotently
from process_apis.orders.schemas import SalesOrderCreate, SalesOrderLineCreate, SalesOrderResult
from process_apis.orders.workflow import SalesOrderWorkflow
from process_apis.runs.schemas import RunState
from system_apis.crm.schemas import CrmAcceptedQuote
from system_apis.crm.webhooks import ChannelEventInvalid, verify_quote_accepted

# The client the CRM's events are keyed and audited under.
CLIENT_ID = "crm-webhooks"

router = APIRouter(prefix="/webhooks/crm", tags=["webhooks"])


@router.post(
    "/channel",
    response_model=SalesOrderResult,
    status_code=201,
    operation_id="webhooks-crm-channel",
    summary="Receive the CRM's accepted quote",
    responses={
        200: {
            "description": "The quote's order exists: the same order.",
            "model": SalesOrderResult,
        },
        202: {"description": "The ERP is down: the run is queued.", "model": SalesOrderResult},
        **problem_responses(400, 413, 422, 429, 502, 503),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def receive_quote_accepted(
    request: Request,
    context: ContextDep,
    channel_signature: Annotated[
        str | None,
        Header(
            alias="Channel-Signature",
            description="`t=<unix seconds>,v1=<hex HMAC-SHA256>`; without it, a `400`.",
        ),
    ] = None,
) -> Response:
    """Verify a signed `quote.accepted` event and place the quote's sales order once."""
    limiter = request.app.state.rate_limiter
    await limiter.enforce_ip(request, policy="webhooks", limit=limiter.settings.webhooks)
    crm = context.settings.crm
    quote = verify_quote_accepted(
        await request.body(),
        channel_signature,
        crm.webhook_secret.get_secret_value(),
        tolerance_seconds=crm.webhook_tolerance_seconds,
    )
    order = _order(quote)
    workflow = SalesOrderWorkflow(context)

    async def handle() -> Outcome:
        result, created = await workflow.accept(
            request=order,
            client_id=CLIENT_ID,
            correlation_id=getattr(request.state, "correlation_id", None),
        )
        if result.run.state == RunState.PENDING_RETRY:
            return Outcome(202, result, {"Location": result.run.run_url})
        return Outcome(
            201 if created else 200, result, {"Location": f"/v1/orders/{result.order.id}"}
        )

    store = IdempotencyStore(context.sessionmaker, context.settings.idempotency_retention)
    return await run_idempotently(
        store, request, client_id=CLIENT_ID, key=quote.event_id, body=order, handler=handle
    )


def _order(quote: CrmAcceptedQuote) -> SalesOrderCreate:
    """The order the quote asks for; a quote the gateway cannot read is the CRM's error."""
    try:
        return SalesOrderCreate(
            quote_id=quote.quote_id,
            customer_id=quote.customer_id,
            partner_id=quote.partner_id,
            service_start=quote.service_start,
            lines=[
                SalesOrderLineCreate(price_id=line.price_id, quantity=line.quantity)
                for line in quote.lines
            ],
        )
    except ValidationError as exc:
        raise ChannelEventInvalid(
            f"quote {quote.quote_id} is not an order ({exc.error_count()} problems)"
        ) from exc
