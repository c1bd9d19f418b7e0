"""`CrmPort` over the Channel API v1 (the format `sandboxes.crm` serves).

The client's base URL is the API root (`.../api/v1`) and its default headers carry
the bearer token (`channel_headers`). Creates send the caller's `Idempotency-Key`,
which the CRM replays; approve and reject are idempotent by nature and retried as
such. The CRM's error body gives a refusal its `vendor_code` and message.
"""

from __future__ import annotations

from datetime import date
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from core.settings import CrmSettings
from system_apis.crm.adapters.channel_wire import (
    ChannelAccount,
    ChannelCommissionPlan,
    ChannelEligibility,
    ChannelErrorBody,
    ChannelPartner,
    ChannelPartnerList,
    ChannelRegistration,
    ChannelRegistrationList,
)
from system_apis.crm.mapping import (
    eligibility_from_channel,
    partner_from_channel,
    plan_from_channel,
    rate_card_to_channel,
    registration_from_channel,
    registration_to_channel,
)
from system_apis.crm.schemas import (
    CrmAccount,
    CrmAccountStatus,
    CrmCommissionPlan,
    CrmPartner,
    CrmPartnerStatus,
    CrmRateCardVersionCreate,
    DealDecision,
    DealRegistration,
    DealRegistrationCreate,
    DealRegistrationDecision,
    DealRegistrationStatus,
    PartnerEligibility,
)
from system_apis.http import ResilientClient, VendorError, parse_body

M = TypeVar("M", bound=BaseModel)


def channel_headers(settings: CrmSettings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.access_token.get_secret_value()}"}


def decode_channel_error(response: httpx.Response) -> VendorError | None:
    try:
        error = ChannelErrorBody.model_validate_json(response.content).error
    except ValidationError:
        return None
    return VendorError(code=error.code, message=error.message)


def _segment(value: str) -> str:
    return quote(value, safe="")


class ChannelAdapter:
    """Implements `CrmPort`; maps only, decides nothing."""

    def __init__(self, client: ResilientClient) -> None:
        self._client = client

    async def _call(
        self, method: str, path: str, model: type[M], operation: str, **kwargs: Any
    ) -> M:
        response = await self._client.request(
            method, path, operation=operation, decode_error=decode_channel_error, **kwargs
        )
        return parse_body(response, model, backend=self._client.backend, operation=operation)

    async def get_partner(self, partner_id: str) -> CrmPartner:
        partner = await self._call(
            "GET", f"partners/{_segment(partner_id)}", ChannelPartner, "get_partner"
        )
        return partner_from_channel(partner)

    async def list_partners(
        self, *, status: CrmPartnerStatus | None = None
    ) -> tuple[CrmPartner, ...]:
        params = {} if status is None else {"status": status.value}
        found = await self._call(
            "GET", "partners", ChannelPartnerList, "list_partners", params=params
        )
        return tuple(partner_from_channel(partner) for partner in found.data)

    async def check_eligibility(
        self, partner_id: str, *, customer_id: str, product_tier: str, on: date
    ) -> PartnerEligibility:
        params = {"customerRef": customer_id, "productTier": product_tier, "on": on.isoformat()}
        answer = await self._call(
            "GET",
            f"partners/{_segment(partner_id)}/eligibility",
            ChannelEligibility,
            "check_eligibility",
            params=params,
        )
        return eligibility_from_channel(answer)

    async def get_commission_plan(self, code: str) -> CrmCommissionPlan:
        plan = await self._call(
            "GET", f"commission-plans/{_segment(code)}", ChannelCommissionPlan, "get_plan"
        )
        return plan_from_channel(plan)

    async def add_rate_card_version(
        self, code: str, version: CrmRateCardVersionCreate, *, idempotency_key: str
    ) -> CrmCommissionPlan:
        plan = await self._call(
            "POST",
            f"commission-plans/{_segment(code)}/rate-cards",
            ChannelCommissionPlan,
            "add_rate_card_version",
            json_body=rate_card_to_channel(version),
            headers={"Idempotency-Key": idempotency_key},
        )
        return plan_from_channel(plan)

    async def register_deal(
        self, registration: DealRegistrationCreate, *, idempotency_key: str
    ) -> DealRegistration:
        created = await self._call(
            "POST",
            "deal-registrations",
            ChannelRegistration,
            "register_deal",
            json_body=registration_to_channel(registration),
            headers={"Idempotency-Key": idempotency_key},
        )
        return registration_from_channel(created)

    async def get_deal_registration(self, registration_id: str) -> DealRegistration:
        found = await self._call(
            "GET",
            f"deal-registrations/{_segment(registration_id)}",
            ChannelRegistration,
            "get_deal_registration",
        )
        return registration_from_channel(found)

    async def list_deal_registrations(
        self,
        *,
        partner_id: str | None = None,
        customer_id: str | None = None,
        status: DealRegistrationStatus | None = None,
    ) -> tuple[DealRegistration, ...]:
        params = {
            key: value
            for key, value in (
                ("partnerRef", partner_id),
                ("customerRef", customer_id),
                ("status", status.value if status else None),
            )
            if value is not None
        }
        found = await self._call(
            "GET",
            "deal-registrations",
            ChannelRegistrationList,
            "list_deal_registrations",
            params=params,
        )
        return tuple(registration_from_channel(r) for r in found.data)

    async def decide_deal_registration(
        self, registration_id: str, decision: DealRegistrationDecision
    ) -> DealRegistration:
        action = "approve" if decision.decision is DealDecision.APPROVE else "reject"
        body = {} if decision.note is None else {"note": decision.note}
        decided = await self._call(
            "POST",
            f"deal-registrations/{_segment(registration_id)}/{action}",
            ChannelRegistration,
            "decide_deal_registration",
            idempotent=True,  # deciding again the same way answers the same registration
            json_body=body,
        )
        return registration_from_channel(decided)

    async def set_account_status(self, customer_id: str, status: CrmAccountStatus) -> CrmAccount:
        account = await self._call(
            "PUT",
            f"accounts/{_segment(customer_id)}/status",
            ChannelAccount,
            "set_account_status",
            idempotent=True,  # setting the same status again is harmless
            json_body={"status": status.value},
        )
        return CrmAccount(
            customer_id=account.customer_ref,
            status=CrmAccountStatus(account.status),
            changed_at=account.status_changed_at,
        )
