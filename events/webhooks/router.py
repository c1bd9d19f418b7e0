"""`/v1/webhook-endpoints` (a platform client's own) and `/partner/v1/webhook-endpoints`
(a partner's): endpoints, their messages and delivery attempts, resend and recover.

Both are built by `endpoints_router` from who the owner is; writes are audited by the
edge like every other write.
"""

# No `from __future__ import annotations`: the routes' dependencies are local to the
# factory, and FastAPI reads each annotation as an object.

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response

from core.auth import PartnerBindingRequired, Principal, requires
from core.ids import id_pattern
from core.models.webhook_attempt import WebhookAttemptRow
from core.models.webhook_endpoint import WebhookEndpointRow
from core.models.webhook_message import MessageStatus, WebhookMessageRow
from core.pagination import DEFAULT_PAGE_SIZE, Cursor, Page, PageSize
from core.problems import problem_responses
from events.webhooks import service
from events.webhooks.context import WebhooksDep
from events.webhooks.schemas import (
    WebhookAttempt,
    WebhookEndpoint,
    WebhookEndpointCreate,
    WebhookEndpointCreated,
    WebhookEndpointUpdate,
    WebhookMessage,
    WebhookRecover,
    WebhookRecovered,
    WebhookSecretRotated,
)
from events.webhooks.service import Owner

EndpointID = Annotated[str, Path(pattern=id_pattern("webhook_endpoint"))]
MessageID = Annotated[str, Path(pattern=id_pattern("webhook_message"))]
OwnerDependency = Callable[..., Coroutine[Any, Any, Owner | None]]


def endpoint_view(row: WebhookEndpointRow) -> WebhookEndpoint:
    return WebhookEndpoint.model_validate(row, from_attributes=True)


def message_view(row: WebhookMessageRow) -> WebhookMessage:
    return WebhookMessage.model_validate(row, from_attributes=True)


def attempt_view(row: WebhookAttemptRow) -> WebhookAttempt:
    return WebhookAttempt.model_validate(row, from_attributes=True)


async def platform_reader(principal: Annotated[Principal, requires("webhooks:read")]) -> Owner:
    return Owner(principal.client_id, None)


async def platform_writer(principal: Annotated[Principal, requires("webhooks:write")]) -> Owner:
    return Owner(principal.client_id, None)


async def partner_owner(principal: Annotated[Principal, requires("partner:webhooks")]) -> Owner:
    """Any client of the token's partner manages the partner's endpoints."""
    if principal.partner_id is None:
        raise PartnerBindingRequired("the token is not bound to a partner")
    return Owner(principal.client_id, principal.partner_id)


async def operator_reader(_: Annotated[Principal, requires("ops:read")]) -> None:
    """Finance operations read every endpoint (no owner)."""


async def operator_writer(_: Annotated[Principal, requires("ops:write")]) -> None:
    """Finance operations change, resend and recover any endpoint (no owner)."""


@dataclass(frozen=True)
class Routes:
    """What each group of routes is added with: the router, the operation id prefix, and
    the dependencies that find the owner for a read and for a write (None: an operator)."""

    router: APIRouter
    op: str
    read: Any
    write: Any


def endpoints_router(
    *,
    prefix: str,
    operation_prefix: str,
    reader: OwnerDependency,
    writer: OwnerDependency,
    owned: bool = True,
) -> APIRouter:
    """The endpoint routes for owners found by `reader` (reads) and `writer` (writes).

    Only an owner (`owned`) creates, deletes and rotates the secret of its endpoints.
    """
    routes = Routes(
        APIRouter(prefix=prefix, tags=["webhook-endpoints"]),
        operation_prefix,
        Depends(reader),
        Depends(writer),
    )
    groups = (_create, _delete_and_rotate) if owned else ()
    for add in (*groups, _list_and_get, _update, _lists, _resends):
        add(routes)
    return routes.router


def _create(routes: Routes) -> None:
    Writer = Annotated[Owner, routes.write]

    @routes.router.post(
        "",
        response_model=WebhookEndpointCreated,
        status_code=201,
        operation_id=f"{routes.op}-create",
        summary="Create a webhook endpoint",
        responses=problem_responses(400, 401, 403, 413, 415, 422),
    )
    async def create(
        data: WebhookEndpointCreate, owner: Writer, webhooks: WebhooksDep, response: Response
    ) -> WebhookEndpointCreated:
        """Create an endpoint; its signing secret is in this answer only."""
        row, secret = await service.create_endpoint(webhooks, owner, data)
        response.headers["Location"] = f"{routes.router.prefix}/{row.id}"
        return WebhookEndpointCreated(**endpoint_view(row).model_dump(), secret=secret)


def _list_and_get(routes: Routes) -> None:
    Reader = Annotated[Owner | None, routes.read]

    @routes.router.get(
        "",
        response_model=Page[WebhookEndpoint],
        operation_id=f"{routes.op}-list",
        summary="List webhook endpoints",
        responses=problem_responses(400, 401, 403, 422),
    )
    async def list_endpoints(
        owner: Reader,
        webhooks: WebhooksDep,
        cursor: Cursor = None,
        limit: PageSize = DEFAULT_PAGE_SIZE,
    ) -> Page[WebhookEndpoint]:
        """The endpoints, newest first; deleted ones are left out."""
        async with webhooks.sessionmaker() as session:
            rows, after = await service.list_endpoints(session, owner, cursor=cursor, limit=limit)
        return Page(items=[endpoint_view(row) for row in rows], next_cursor=after)

    @routes.router.get(
        "/{endpoint_id}",
        response_model=WebhookEndpoint,
        operation_id=f"{routes.op}-get",
        summary="Get a webhook endpoint",
        responses=problem_responses(401, 403, 404, 422),
    )
    async def get(endpoint_id: EndpointID, owner: Reader, webhooks: WebhooksDep) -> WebhookEndpoint:
        """One endpoint, with its health."""
        async with webhooks.sessionmaker() as session:
            return endpoint_view(await service.find_endpoint(session, endpoint_id, owner))


def _update(routes: Routes) -> None:
    Writer = Annotated[Owner | None, routes.write]

    @routes.router.patch(
        "/{endpoint_id}",
        response_model=WebhookEndpoint,
        operation_id=f"{routes.op}-update",
        summary="Change a webhook endpoint",
        responses=problem_responses(400, 401, 403, 404, 409, 413, 415, 422),
    )
    async def update(
        endpoint_id: EndpointID, data: WebhookEndpointUpdate, owner: Writer, webhooks: WebhooksDep
    ) -> WebhookEndpoint:
        """Change the description or event-type filter, or disable or enable the endpoint."""
        async with webhooks.sessionmaker.begin() as session:
            row = await service.find_endpoint(session, endpoint_id, owner)
            service.update_endpoint(row, data, webhooks.clock(), by=owner)
        return endpoint_view(row)


def _delete_and_rotate(routes: Routes) -> None:
    Writer = Annotated[Owner, routes.write]

    @routes.router.delete(
        "/{endpoint_id}",
        status_code=204,
        operation_id=f"{routes.op}-delete",
        summary="Delete a webhook endpoint",
        responses=problem_responses(401, 403, 404, 422),
    )
    async def delete(endpoint_id: EndpointID, owner: Writer, webhooks: WebhooksDep) -> Response:
        """Stop deliveries for good; the messages and their delivery log are kept."""
        async with webhooks.sessionmaker.begin() as session:
            row = await service.find_endpoint(session, endpoint_id, owner)
            service.delete_endpoint(row, webhooks.clock())
        return Response(status_code=204)

    @routes.router.post(
        "/{endpoint_id}/secret/rotate",
        response_model=WebhookSecretRotated,
        operation_id=f"{routes.op}-rotate-secret",
        summary="Rotate a webhook endpoint's secret",
        responses=problem_responses(401, 403, 404, 409, 422),
    )
    async def rotate(
        endpoint_id: EndpointID, owner: Writer, webhooks: WebhooksDep
    ) -> WebhookSecretRotated:
        """A new secret, shown once; the old one signs beside it for the grace period."""
        async with webhooks.sessionmaker.begin() as session:
            row = await service.find_endpoint(session, endpoint_id, owner)
            secret, expires = service.rotate_secret(webhooks, row, webhooks.clock())
        return WebhookSecretRotated(secret=secret, previous_secret_expires_at=expires)


def _lists(routes: Routes) -> None:
    Reader = Annotated[Owner | None, routes.read]

    @routes.router.get(
        "/{endpoint_id}/messages",
        response_model=Page[WebhookMessage],
        operation_id=f"{routes.op}-list-messages",
        summary="List an endpoint's messages",
        responses=problem_responses(400, 401, 403, 404, 422),
    )
    async def list_messages(
        endpoint_id: EndpointID,
        owner: Reader,
        webhooks: WebhooksDep,
        status: Annotated[
            MessageStatus | None, Query(description="Only messages in this status.")
        ] = None,
        cursor: Cursor = None,
        limit: PageSize = DEFAULT_PAGE_SIZE,
    ) -> Page[WebhookMessage]:
        """The endpoint's messages, newest first."""
        async with webhooks.sessionmaker() as session:
            endpoint = await service.find_endpoint(session, endpoint_id, owner)
            rows, after = await service.list_messages(
                session, endpoint, status=status, cursor=cursor, limit=limit
            )
        return Page(items=[message_view(row) for row in rows], next_cursor=after)

    @routes.router.get(
        "/{endpoint_id}/messages/{message_id}/attempts",
        response_model=Page[WebhookAttempt],
        operation_id=f"{routes.op}-list-attempts",
        summary="List a message's delivery attempts",
        responses=problem_responses(400, 401, 403, 404, 422),
    )
    async def list_attempts(
        endpoint_id: EndpointID,
        message_id: MessageID,
        owner: Reader,
        webhooks: WebhooksDep,
        cursor: Cursor = None,
        limit: PageSize = DEFAULT_PAGE_SIZE,
    ) -> Page[WebhookAttempt]:
        """Every attempt to deliver the message, newest first."""
        async with webhooks.sessionmaker() as session:
            endpoint = await service.find_endpoint(session, endpoint_id, owner)
            message = await service.find_message(session, endpoint, message_id)
            rows, after = await service.list_attempts(session, message, cursor=cursor, limit=limit)
        return Page(items=[attempt_view(row) for row in rows], next_cursor=after)


def _resends(routes: Routes) -> None:
    Writer = Annotated[Owner | None, routes.write]

    @routes.router.post(
        "/{endpoint_id}/messages/{message_id}/resend",
        response_model=WebhookMessage,
        status_code=202,
        operation_id=f"{routes.op}-resend",
        summary="Resend a message",
        responses=problem_responses(401, 403, 404, 409, 422),
    )
    async def resend(
        endpoint_id: EndpointID, message_id: MessageID, owner: Writer, webhooks: WebhooksDep
    ) -> WebhookMessage:
        """Deliver the message again, delivered before or not, on a fresh retry schedule."""
        async with webhooks.sessionmaker.begin() as session:
            endpoint = await service.find_endpoint(session, endpoint_id, owner)
            message = await service.find_message(session, endpoint, message_id)
            service.resend(endpoint, message, webhooks.clock())
        return message_view(message)

    @routes.router.post(
        "/{endpoint_id}/recover",
        response_model=WebhookRecovered,
        status_code=202,
        operation_id=f"{routes.op}-recover",
        summary="Resend every message since a time",
        responses=problem_responses(400, 401, 403, 404, 409, 413, 415, 422),
    )
    async def recover(
        endpoint_id: EndpointID, data: WebhookRecover, owner: Writer, webhooks: WebhooksDep
    ) -> WebhookRecovered:
        """Deliver again every message of the endpoint made at or after `since`."""
        async with webhooks.sessionmaker.begin() as session:
            endpoint = await service.find_endpoint(session, endpoint_id, owner)
            count = await service.recover(session, endpoint, data.since, webhooks.clock())
        return WebhookRecovered(resent=count)


platform_router = endpoints_router(
    prefix="/v1/webhook-endpoints",
    operation_prefix="webhook-endpoints",
    reader=platform_reader,
    writer=platform_writer,
)
partner_router = endpoints_router(
    prefix="/partner/v1/webhook-endpoints",
    operation_prefix="partner-webhook-endpoints",
    reader=partner_owner,
    writer=partner_owner,
)
ops_router = endpoints_router(
    prefix="/ops/v1/webhook-endpoints",
    operation_prefix="ops-webhook-endpoints",
    reader=operator_reader,
    writer=operator_writer,
    owned=False,
)
