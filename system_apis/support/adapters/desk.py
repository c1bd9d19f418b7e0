"""`SupportPort` over the Desk API v2 (the format `sandboxes.support` serves).

The client's base URL is the API root (`.../desk/v2`) and its default headers carry
the desk token (`desk_headers`). Creates send the caller's `Idempotency-Key`, which
the desk replays; tier changes, revocations and decisions are idempotent by nature
and retried as such. The desk's error body gives a refusal its `vendor_code`.
"""

from __future__ import annotations

from decimal import InvalidOperation
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from core.settings import SupportSettings
from system_apis.errors import BackendContractError
from system_apis.http import ResilientClient, VendorError, parse_body
from system_apis.support.adapters.desk_wire import (
    DeskAccount,
    DeskEntitlement,
    DeskEntitlementList,
    DeskErrorBody,
    DeskServiceCredit,
    DeskServiceCreditList,
    DeskTicket,
)
from system_apis.support.mapping import (
    case_from_desk,
    case_to_desk,
    entitlement_from_desk,
    grant_to_desk,
    service_credit_from_desk,
    service_credit_to_desk,
)
from system_apis.support.schemas import (
    ServiceCredit,
    ServiceCreditCreate,
    ServiceCreditDecision,
    ServiceCreditStatus,
    SupportAccount,
    SupportAccountStatus,
    SupportCase,
    SupportCaseCreate,
    SupportEntitlement,
    SupportEntitlementGrant,
    SupportTier,
)

M = TypeVar("M", bound=BaseModel)


def desk_headers(settings: SupportSettings) -> dict[str, str]:
    return {"Authorization": f"Token {settings.api_token.get_secret_value()}"}


def decode_desk_error(response: httpx.Response) -> VendorError | None:
    try:
        errors = DeskErrorBody.model_validate_json(response.content).errors
    except ValidationError:
        return None
    if not errors:
        return None
    return VendorError(code=errors[0].code, message=errors[0].detail)


def _segment(value: str) -> str:
    return quote(value, safe="")


class DeskAdapter:
    """Implements `SupportPort`; maps only, decides nothing."""

    def __init__(self, client: ResilientClient) -> None:
        self._client = client

    async def _call(
        self, method: str, path: str, model: type[M], operation: str, **kwargs: Any
    ) -> M:
        response = await self._client.request(
            method, path, operation=operation, decode_error=decode_desk_error, **kwargs
        )
        return parse_body(response, model, backend=self._client.backend, operation=operation)

    def _credit(self, credit: DeskServiceCredit, operation: str) -> ServiceCredit:
        try:
            return service_credit_from_desk(credit)
        except (ValueError, InvalidOperation, KeyError) as exc:
            raise BackendContractError(
                f"{self._client.backend} answered {operation} with the amount "
                f"{credit.amount!r} {credit.currency!r}",
                backend=self._client.backend,
                operation=operation,
            ) from exc

    async def list_entitlements(self, customer_id: str) -> tuple[SupportEntitlement, ...]:
        found = await self._call(
            "GET",
            f"customers/{_segment(customer_id)}/entitlements",
            DeskEntitlementList,
            "list_entitlements",
        )
        return tuple(entitlement_from_desk(e) for e in found.entitlements)

    async def grant_entitlement(
        self, customer_id: str, grant: SupportEntitlementGrant, *, idempotency_key: str
    ) -> SupportEntitlement:
        granted = await self._call(
            "POST",
            f"customers/{_segment(customer_id)}/entitlements",
            DeskEntitlement,
            "grant_entitlement",
            json_body=grant_to_desk(grant),
            headers={"Idempotency-Key": idempotency_key},
        )
        return entitlement_from_desk(granted)

    async def change_entitlement_tier(
        self, entitlement_id: str, tier: SupportTier
    ) -> SupportEntitlement:
        changed = await self._call(
            "PATCH",
            f"entitlements/{_segment(entitlement_id)}",
            DeskEntitlement,
            "change_entitlement_tier",
            idempotent=True,  # setting the same tier again is harmless
            json_body={"tier": tier.value},
        )
        return entitlement_from_desk(changed)

    async def revoke_entitlement(self, entitlement_id: str) -> SupportEntitlement:
        revoked = await self._call(
            "DELETE",
            f"entitlements/{_segment(entitlement_id)}",
            DeskEntitlement,
            "revoke_entitlement",
        )
        return entitlement_from_desk(revoked)

    async def open_case(self, case: SupportCaseCreate, *, idempotency_key: str) -> SupportCase:
        ticket = await self._call(
            "POST",
            "tickets",
            DeskTicket,
            "open_case",
            json_body=case_to_desk(case),
            headers={"Idempotency-Key": idempotency_key},
        )
        return case_from_desk(ticket)

    async def get_case(self, case_id: str) -> SupportCase:
        ticket = await self._call("GET", f"tickets/{_segment(case_id)}", DeskTicket, "get_case")
        return case_from_desk(ticket)

    async def request_service_credit(
        self, credit: ServiceCreditCreate, *, idempotency_key: str
    ) -> ServiceCredit:
        operation = "request_service_credit"
        created = await self._call(
            "POST",
            f"tickets/{_segment(credit.case_id)}/service_credits",
            DeskServiceCredit,
            operation,
            json_body=service_credit_to_desk(credit),
            headers={"Idempotency-Key": idempotency_key},
        )
        return self._credit(created, operation)

    async def get_service_credit(self, credit_id: str) -> ServiceCredit:
        operation = "get_service_credit"
        found = await self._call(
            "GET", f"service_credits/{_segment(credit_id)}", DeskServiceCredit, operation
        )
        return self._credit(found, operation)

    async def list_service_credits(
        self, *, case_id: str | None = None, status: ServiceCreditStatus | None = None
    ) -> tuple[ServiceCredit, ...]:
        operation = "list_service_credits"
        params = {
            key: value
            for key, value in (("ticket_id", case_id), ("status", status.value if status else None))
            if value is not None
        }
        found = await self._call(
            "GET", "service_credits", DeskServiceCreditList, operation, params=params
        )
        return tuple(self._credit(credit, operation) for credit in found.service_credits)

    async def decide_service_credit(
        self, credit_id: str, decision: ServiceCreditDecision
    ) -> ServiceCredit:
        operation = "decide_service_credit"
        body: dict[str, Any] = {"decision": decision.decision.value}
        if decision.note is not None:
            body["note"] = decision.note
        decided = await self._call(
            "POST",
            f"service_credits/{_segment(credit_id)}/decision",
            DeskServiceCredit,
            operation,
            idempotent=True,  # the same decision again answers the same credit
            json_body=body,
        )
        return self._credit(decided, operation)

    async def set_account_status(
        self, customer_id: str, status: SupportAccountStatus
    ) -> SupportAccount:
        account = await self._call(
            "PUT",
            f"customers/{_segment(customer_id)}/account",
            DeskAccount,
            "set_account_status",
            idempotent=True,  # setting the same status again is harmless
            json_body={"status": status.value},
        )
        return SupportAccount(
            customer_id=account.customer_ref,
            status=SupportAccountStatus(account.status),
            changed_at=account.status_changed_at,
        )
