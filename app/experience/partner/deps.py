"""What every partner route shares: the token's partner, its errors and its path ids."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from core.auth import PartnerBindingRequired, Principal, requires
from core.ids import id_pattern
from core.problems import problem_responses


async def partner_id(principal: Annotated[Principal, requires("partner:read")]) -> str:
    """The partner the token is bound to; every query of this API is scoped to it."""
    if principal.partner_id is None:
        raise PartnerBindingRequired("the token is not bound to a partner")
    return principal.partner_id


PartnerID = Annotated[str, Depends(partner_id)]
ERRORS = problem_responses(400, 401, 403, 404, 422)

CustomerFilter = Annotated[
    str | None, Query(pattern=id_pattern("customer"), description="Only this customer's.")
]
CurrencyFilter = Annotated[
    str | None,
    Query(pattern=r"^[A-Z]{3}$", description="Only in this ISO 4217 currency.", examples=["USD"]),
]
PERIOD_PATTERN = r"^[1-9][0-9]{3}-(0[1-9]|1[0-2])$"
