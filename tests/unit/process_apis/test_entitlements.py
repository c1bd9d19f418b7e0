"""Entitlement decisions on the port fakes: the desk brought in line with the subscriptions."""

from __future__ import annotations

from core.models.workflow_run import RunStatus
from process_apis.entitlements.workflow import EntitlementResyncWorkflow
from process_apis.runs.schemas import RunState
from process_apis.subscriptions.schemas import SubscriptionCreate
from process_apis.subscriptions.workflow.order import SubscriptionOrderWorkflow
from system_apis.support.schemas import SupportEntitlementGrant, SupportTier
from tests.support.fakes.estate import ENTERPRISE, GLOBEX, PRO, PRO_USD, Estate
from tests.support.fakes.runs import stored_run


async def subscribed(estate: Estate) -> None:
    await SubscriptionOrderWorkflow(estate.context).order(
        request=SubscriptionCreate(customer_id=GLOBEX, price_id=PRO_USD),
        client_id="platform",
        correlation_id=None,
    )


async def resync(estate: Estate) -> tuple[RunState, str]:
    result = await EntitlementResyncWorkflow(estate.context).resync(
        GLOBEX, client_id="ops", correlation_id=None
    )
    return result.run.state, result.run.run_id


async def test_a_resync_grants_retiers_and_revokes_until_the_desk_matches(estate: Estate) -> None:
    await subscribed(estate)
    [granted] = estate.support.entitlements.values()
    await estate.support.change_entitlement_tier(granted.id, SupportTier.STARTER)
    stray = SupportEntitlementGrant(product_id=ENTERPRISE, tier=SupportTier.ENTERPRISE)
    await estate.support.grant_entitlement(GLOBEX, stray, idempotency_key="by-hand")

    state, run_id = await resync(estate)

    assert state == RunState.COMPLETED
    assert estate.support.active(GLOBEX) == {PRO: SupportTier.PRO}
    run = await stored_run(estate.sessionmaker, run_id)
    assert run.result is not None
    assert (len(run.result["retiered"]), len(run.result["revoked"])) == (1, 1)


async def test_a_resync_of_a_desk_in_line_changes_nothing(estate: Estate) -> None:
    await subscribed(estate)
    _, run_id = await resync(estate)
    run = await stored_run(estate.sessionmaker, run_id)
    assert run.result is not None
    assert (run.result["granted"], run.result["retiered"], run.result["revoked"]) == ([], [], [])


async def test_a_desk_outage_queues_the_resync(estate: Estate) -> None:
    await subscribed(estate)
    estate.support.recorder.fail("list_entitlements", "transient")
    state, run_id = await resync(estate)
    assert state == RunState.PENDING_RETRY
    assert (await stored_run(estate.sessionmaker, run_id)).status == RunStatus.PENDING_RETRY
    assert (await EntitlementResyncWorkflow(estate.context).resume(run_id)).run.state == (
        RunState.COMPLETED
    )
