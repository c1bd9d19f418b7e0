"""`/v1/customers`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from app.core.auth import requires
from app.core.canonical.parties import Customer, CustomerCreate
from app.core.ids import id_pattern
from app.core.problems import problem_responses
from process_apis.customers import service
from process_apis.deps import SessionDep

CustomerID = Annotated[str, Path(pattern=id_pattern("customer"))]

router = APIRouter(prefix="/v1/customers", tags=["customers"])


@router.post(
    "",
    response_model=Customer,
    status_code=201,
    operation_id="customers-create",
    dependencies=[requires("customers:write")],
    summary="Register a customer",
    responses=problem_responses(400, 401, 403, 409, 413, 415, 422),
)
async def create_customer(
    data: CustomerCreate, session: SessionDep, response: Response
) -> Customer:
    """Register a customer of a legal entity, optionally attributed to a partner."""
    customer = await service.create_customer(session, data=data)
    await session.commit()
    response.headers["Location"] = f"/v1/customers/{customer.id}"
    return Customer.model_validate(customer)


@router.get(
    "/{customer_id}",
    response_model=Customer,
    operation_id="customers-get",
    dependencies=[requires("customers:read")],
    summary="Get a customer",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_customer(customer_id: CustomerID, session: SessionDep) -> Customer:
    """One customer with its backend cross-references."""
    return Customer.model_validate(await service.get_customer(session, customer_id))
