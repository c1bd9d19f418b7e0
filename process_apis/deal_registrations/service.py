"""A partner's deal registrations: the CRM's answer, scoped to the partner and paged.

The CRM port lists a partner's registrations whole (a channel platform keeps a few
per customer, not thousands), so the page is cut here: newest id first, the next
page after the cursor's id, which stays stable when registrations are added. A
registration of another partner, or one the CRM does not know, is not found.
"""

from __future__ import annotations

from core.errors import NotFound
from core.pagination import decode_cursor, next_cursor
from process_apis.deal_registrations.schemas import DealRegistrationResource
from system_apis.crm.port import CrmDealRegistrations
from system_apis.crm.schemas import DealRegistration, DealRegistrationStatus
from system_apis.errors import BackendNotFound


def _resource(registration: DealRegistration) -> DealRegistrationResource:
    return DealRegistrationResource.model_validate(registration.model_dump())


async def list_deal_registrations(
    crm: CrmDealRegistrations,
    partner_id: str,
    *,
    customer_id: str | None,
    status: DealRegistrationStatus | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[DealRegistrationResource], str | None]:
    found = await crm.list_deal_registrations(
        partner_id=partner_id, customer_id=customer_id, status=status
    )
    after = decode_cursor(cursor)
    page = sorted(
        (r for r in found if r.partner_id == partner_id and (after is None or r.id < after)),
        key=lambda r: r.id,
        reverse=True,
    )[: limit + 1]
    return [_resource(r) for r in page[:limit]], next_cursor([r.id for r in page], limit)


async def get_deal_registration(
    crm: CrmDealRegistrations, partner_id: str, registration_id: str
) -> DealRegistrationResource:
    try:
        registration = await crm.get_deal_registration(registration_id)
    except BackendNotFound as error:
        raise NotFound(f"no deal registration {registration_id}") from error
    if registration.partner_id != partner_id:
        raise NotFound(f"no deal registration {registration_id}")
    return _resource(registration)
