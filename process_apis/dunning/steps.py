"""The account's status in each system it matters to, one step each, safe to repeat.

Suspension and reactivation take the same steps in the same order; each sets the
status the run wants (setting it again changes nothing), so a replay after a failure
halfway finishes the systems left and repeats the rest harmlessly.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from process_apis.deps import ProcessContext
from process_apis.entitlements import service
from process_apis.runs.engine import RunHandle
from system_apis.crm.schemas import CrmAccountStatus
from system_apis.support.schemas import SupportAccountStatus, SupportTier

STEPS = ("support_account", "entitlements", "erp_customer", "crm_account")


@dataclass(frozen=True)
class AccountPlan:
    """What one run sets, taken in the transaction that leased it."""

    run_id: str
    case_id: str
    customer_id: str
    company_id: str
    erp_number: str
    suspend: bool
    desired: dict[str, SupportTier]
    key_prefix: str


class AccountStatuses(BaseModel):
    """Where each system stands once the run has finished."""

    suspended: bool
    support: str
    entitlements: list[str]
    erp_blocked: bool
    crm: str


async def set_everywhere(
    context: ProcessContext, handle: RunHandle, plan: AccountPlan
) -> AccountStatuses:
    """Each system brought to the plan's status, in the order of `STEPS`."""
    support_status = SupportAccountStatus.SUSPENDED if plan.suspend else SupportAccountStatus.ACTIVE
    crm_status = CrmAccountStatus.SUSPENDED if plan.suspend else CrmAccountStatus.ACTIVE
    customer_id = plan.customer_id
    support = await handle.step(
        "support_account",
        lambda: context.support.set_account_status(customer_id, support_status),
        request={"customer_id": customer_id, "status": support_status.value},
        downstream_key=customer_id,
    )
    synced = await handle.step(
        "entitlements",
        lambda: service.reconcile(
            context.support, customer_id, plan.desired, key_prefix=plan.key_prefix
        ),
        request={k: v.value for k, v in plan.desired.items()},
        downstream_key=customer_id,
    )
    erp = await handle.step(
        "erp_customer",
        lambda: context.erp.set_customer_blocked(
            plan.company_id, plan.erp_number, blocked=plan.suspend
        ),
        request={"company_id": plan.company_id, "number": plan.erp_number, "blocked": plan.suspend},
        downstream_key=plan.erp_number,
        backend_ref=lambda standing: standing.id,
    )
    crm = await handle.step(
        "crm_account",
        lambda: context.crm.set_account_status(customer_id, crm_status),
        request={"customer_id": customer_id, "status": crm_status.value},
        downstream_key=customer_id,
    )
    return AccountStatuses(
        suspended=plan.suspend,
        support=support.status.value,
        entitlements=sorted(e.product_id for e in synced.active),
        erp_blocked=erp.blocked,
        crm=crm.status.value,
    )
