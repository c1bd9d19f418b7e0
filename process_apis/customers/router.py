"""`/v1/customers`: register and update customers, synced to billing and the ERP."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Response

from core.auth import requires
from core.canonical.dunning import CustomerDunning
from core.canonical.parties import Customer, CustomerCreate, CustomerStatus
from core.ids import id_pattern
from core.pagination import Page
from core.problems import problem_responses
from process_apis.customers import service
from process_apis.customers.schemas import CustomerResource, CustomerUpdate
from process_apis.customers.workflow import CustomerSyncWorkflow
from process_apis.deps import CallerDep, ContextDep, SessionDep
from process_apis.idempotency import IdempotentWrite, Outcome
from process_apis.listing import ListQueryDep, PartnerFilter
from process_apis.lookups import get_customer as find_customer
from process_apis.runs.schemas import RunState

CustomerID = Annotated[str, Path(pattern=id_pattern("customer"))]
IfMatchHeader = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=200,
        description='The customer\'s `ETag` (its version, `"3"`) as last read; `*` for any.',
    ),
]

router = APIRouter(prefix="/v1/customers", tags=["customers"])


@router.get(
    "",
    response_model=Page[Customer],
    operation_id="customers-list",
    dependencies=[requires("customers:read")],
    summary="List customers",
    responses=problem_responses(400, 401, 403, 422),
)
async def list_customers(
    session: SessionDep,
    listing: ListQueryDep,
    status: Annotated[
        CustomerStatus | None, Query(description="Only customers in this status.")
    ] = None,
    partner_id: PartnerFilter = None,
) -> Page[Customer]:
    """Customers, newest first; `date_from`/`date_to` filter on the day each was registered."""
    return await service.list_customers(
        session, listing=listing, status=status, partner_id=partner_id
    )


SYNC_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {
        "description": "A backend is down: the customer is saved and its sync is queued; "
        "follow `sync.run_url`.",
        "model": CustomerResource,
    },
}


def _outcome(customer: CustomerResource, *, synced_status: int) -> Outcome:
    """The customer as saved now: `synced_status`, or 202 pointing at the queued run."""
    headers = {"ETag": service.etag(customer.version)}
    if customer.sync is not None and customer.sync.state == RunState.PENDING_RETRY:
        return Outcome(202, customer, {**headers, "Location": customer.sync.run_url})
    location = f"/v1/customers/{customer.id}"
    return Outcome(synced_status, customer, {**headers, "Location": location})


@router.post(
    "",
    response_model=CustomerResource,
    status_code=201,
    operation_id="customers-create",
    dependencies=[requires("customers:write")],
    summary="Register a customer",
    responses={**SYNC_RESPONSES, **problem_responses(400, 401, 403, 409, 413, 415, 422, 502)},
)
async def create_customer(
    data: CustomerCreate,
    context: ContextDep,
    caller: CallerDep,
    idempotency: IdempotentWrite,
) -> Response:
    """Register a customer of a legal entity and sync it to billing and the ERP.

    Requires `Idempotency-Key`. `201` synced, `202` saved with its sync queued.
    """

    async def handle() -> Outcome:
        customer = await CustomerSyncWorkflow(context).create(
            data, client_id=caller.client_id, correlation_id=caller.correlation_id
        )
        return _outcome(customer, synced_status=201)

    return await idempotency(data, handle)


@router.patch(
    "/{customer_id}",
    response_model=CustomerResource,
    operation_id="customers-update",
    dependencies=[requires("customers:write")],
    summary="Update a customer",
    responses={
        **SYNC_RESPONSES,
        **problem_responses(400, 401, 403, 404, 409, 412, 413, 415, 422, 502),
    },
)
async def update_customer(
    customer_id: CustomerID,
    data: CustomerUpdate,
    context: ContextDep,
    caller: CallerDep,
    idempotency: IdempotentWrite,
    if_match: IfMatchHeader = None,
) -> Response:
    """Change a customer's name, email, status or partner and sync it to billing and the ERP.

    Requires `Idempotency-Key`; `If-Match` with the version read makes it conditional
    (`412` when the customer changed since). `200` synced, `202` saved with its sync queued.
    """

    async def handle() -> Outcome:
        customer = await CustomerSyncWorkflow(context).update(
            customer_id,
            data,
            if_match=if_match,
            client_id=caller.client_id,
            correlation_id=caller.correlation_id,
        )
        return _outcome(customer, synced_status=200)

    return await idempotency(data, handle)


@router.get(
    "/{customer_id}",
    response_model=CustomerResource,
    operation_id="customers-get",
    dependencies=[requires("customers:read")],
    summary="Get a customer",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_customer(
    customer_id: CustomerID, session: SessionDep, response: Response
) -> CustomerResource:
    """One customer with its backend cross-references and its dunning state; its `ETag` is
    its version."""
    customer = await find_customer(session, customer_id)
    response.headers["ETag"] = service.etag(customer.version)
    resource = CustomerResource.model_validate(customer)
    resource.dunning = CustomerDunning.of(await service.open_dunning_case(session, customer_id))
    return resource
