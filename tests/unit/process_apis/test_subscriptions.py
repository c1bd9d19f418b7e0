"""Subscription decisions on the port fakes: order (eligibility, catalog, entitlements),
amendment (proration and its ERP adjustment) and cancellation."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from core.canonical.subscriptions import SubscriptionStatus
from core.models.workflow_run import RunStatus
from process_apis.errors import PriceCurrencyMismatch
from process_apis.runs.replay import Replayer
from process_apis.runs.schemas import RunState
from process_apis.subscriptions.errors import AdjustmentTotalsMismatch, PartnerNotEligible
from process_apis.subscriptions.schemas import (
    AmendmentCreate,
    CancellationCreate,
    ErpAdjustmentKind,
    SubscriptionCreate,
)
from process_apis.subscriptions.workflow.amendment import SubscriptionAmendmentWorkflow
from process_apis.subscriptions.workflow.cancellation import SubscriptionCancelWorkflow
from process_apis.subscriptions.workflow.order import SubscriptionOrderWorkflow
from system_apis.billing.schemas import BillingSubscriptionStatus
from system_apis.erp.schemas import ErpDocumentStatus
from system_apis.errors import BackendContractError
from system_apis.support.schemas import SupportTier
from tests.support.fakes.estate import (
    ACME,
    ENTERPRISE,
    ENTERPRISE_USD,
    GLOBEX,
    PARTNER,
    PRO,
    PRO_EUR,
    PRO_USD,
    US,
    US_TAX_BPS,
    Estate,
)
from tests.support.fakes.runs import stored_run


async def order(estate: Estate, customer_id: str = GLOBEX, price_id: str = PRO_USD) -> str:
    result = await SubscriptionOrderWorkflow(estate.context).order(
        request=SubscriptionCreate(customer_id=customer_id, price_id=price_id),
        client_id="platform",
        correlation_id=None,
    )
    assert result.run.state == RunState.COMPLETED
    return result.subscription.id


async def test_an_order_creates_billing_erp_and_support_state(estate: Estate) -> None:
    subscription_id = await order(estate)

    [billing] = estate.billing.subscriptions.values()
    assert (billing.reference, billing.status) == (
        subscription_id,
        BillingSubscriptionStatus.ACTIVE,
    )
    assert [item.unit_amount for item in billing.items] == [4900]
    assert len(estate.erp.customers) == 1
    assert estate.support.active(GLOBEX) == {PRO: SupportTier.PRO}
    assert estate.crm.recorder.calls == []  # no partner: no eligibility to check


async def test_a_partner_without_an_approved_registration_is_refused_with_the_crm_reason(
    estate: Estate,
) -> None:
    with pytest.raises(PartnerNotEligible) as raised:
        await order(estate, ACME)
    assert raised.value.extensions["reason"] == "no_deal_registration"
    assert estate.billing.subscriptions == {}
    run = await stored_run(estate.sessionmaker, raised.value.extensions["run_id"])
    assert run.status in (RunStatus.FAILED, RunStatus.REJECTED)
    assert run.legal_entity_id == US  # the subscription's customer's

    estate.crm.approve(
        PARTNER, ACME, ("pro",), on=date(2026, 1, 1), until=estate.today + timedelta(days=30)
    )
    assert await order(estate, ACME)


async def test_a_price_in_another_currency_is_refused_before_any_backend_call(
    estate: Estate,
) -> None:
    with pytest.raises(PriceCurrencyMismatch):
        await order(estate, GLOBEX, PRO_EUR)
    assert estate.billing.recorder.calls == []


async def test_a_billing_outage_queues_the_order_and_the_replay_subscribes_once(
    estate: Estate,
) -> None:
    estate.billing.recorder.fail("create_subscription", "transient")
    queued = await SubscriptionOrderWorkflow(estate.context).order(
        request=SubscriptionCreate(customer_id=GLOBEX, price_id=PRO_USD),
        client_id="platform",
        correlation_id=None,
    )
    assert queued.run.state == RunState.PENDING_RETRY
    assert queued.subscription.status == SubscriptionStatus.PENDING

    resumed = await SubscriptionOrderWorkflow(estate.context).resume(queued.run.run_id)

    assert resumed.subscription.status == SubscriptionStatus.ACTIVE
    assert len(estate.billing.subscriptions) == 1
    assert len(estate.billing.customers) == 1


async def test_an_upgrade_posts_its_proration_as_an_erp_invoice_and_raises_the_tier(
    estate: Estate,
) -> None:
    subscription_id = await order(estate)
    workflow = SubscriptionAmendmentWorkflow(estate.context)
    change = AmendmentCreate(price_id=ENTERPRISE_USD)

    preview = await workflow.preview(subscription_id, change)
    amended = await workflow.amend(subscription_id, change, client_id="p", correlation_id=None)

    # Half the period is left: 19900 / 2 charged, 4900 / 2 credited.
    assert preview.total == 9950 - 2450
    assert preview.erp_adjustment == ErpAdjustmentKind.SALES_INVOICE
    assert amended.erp_adjustment is not None
    assert (amended.erp_adjustment.kind, amended.erp_adjustment.amount) == (
        ErpAdjustmentKind.SALES_INVOICE,
        7500,
    )
    [document] = estate.erp.invoices.values()
    assert document.status == ErpDocumentStatus.POSTED
    assert document.total_excluding_tax == 7500
    assert estate.support.active(GLOBEX) == {ENTERPRISE: SupportTier.ENTERPRISE}


async def test_a_proration_billing_taxed_is_booked_with_the_product_tax_code(
    estate: Estate,
) -> None:
    estate.billing.proration_tax_bps = US_TAX_BPS  # the ERP's STANDARD rate
    subscription_id = await order(estate)

    amended = await SubscriptionAmendmentWorkflow(estate.context).amend(
        subscription_id,
        AmendmentCreate(price_id=ENTERPRISE_USD),
        client_id="p",
        correlation_id=None,
    )

    assert amended.proration is not None
    tax = 884 - 218  # 9950 and -2450 taxed at 8.88%
    assert amended.erp_adjustment is not None
    assert (amended.erp_adjustment.amount, amended.erp_adjustment.total_including_tax) == (
        7500,
        7500 + tax,
    )
    [document] = estate.erp.invoices.values()
    assert (document.status, document.total_tax) == (ErpDocumentStatus.POSTED, tax)


async def test_erp_totals_other_than_billing_charged_leave_the_adjustment_unposted(
    estate: Estate,
) -> None:
    estate.billing.proration_tax_bps = 500  # billing's rate is not the ERP's STANDARD one
    subscription_id = await order(estate)
    workflow = SubscriptionAmendmentWorkflow(estate.context)

    with pytest.raises(AdjustmentTotalsMismatch) as raised:
        await workflow.amend(
            subscription_id,
            AmendmentCreate(price_id=ENTERPRISE_USD),
            client_id="p",
            correlation_id=None,
        )

    tax = 498 - 123  # 9950 and -2450 taxed at 5%
    assert raised.value.extensions["billing"] == {
        "subtotal": 7500,
        "tax_total": tax,
        "total": 7500 + tax,
    }
    amendment_id = raised.value.extensions["amendment_id"]
    assert (await stored_run(estate.sessionmaker, amendment_id)).status == RunStatus.FAILED
    [(draft_id, draft)] = estate.erp.invoices.items()
    assert (draft.status, draft.total_tax) == (ErpDocumentStatus.DRAFT, 666)

    # The draft corrected in the ERP, a replay posts it.
    estate.erp.invoices[draft_id] = draft.model_copy(
        update={"total_tax": tax, "total_including_tax": 7500 + tax}
    )
    replayed = await workflow.resume(amendment_id)

    assert replayed.erp_adjustment is not None
    assert replayed.erp_adjustment.total_including_tax == 7500 + tax
    assert [document.status for document in estate.erp.invoices.values()] == [
        ErpDocumentStatus.POSTED
    ]


async def test_a_smaller_quantity_posts_a_credit_memo(estate: Estate) -> None:
    subscription_id = await order(estate)
    workflow = SubscriptionAmendmentWorkflow(estate.context)
    await workflow.amend(
        subscription_id, AmendmentCreate(quantity=3), client_id="p", correlation_id=None
    )

    amended = await workflow.amend(
        subscription_id, AmendmentCreate(quantity=1), client_id="p", correlation_id=None
    )

    assert amended.erp_adjustment is not None
    assert (amended.erp_adjustment.kind, amended.erp_adjustment.amount) == (
        ErpAdjustmentKind.CREDIT_MEMO,
        4900,
    )
    assert [memo.total_excluding_tax for memo in estate.erp.credit_memos.values()] == [4900]


async def test_a_cancellation_ends_billing_and_revokes_the_entitlement_once(
    estate: Estate,
) -> None:
    subscription_id = await order(estate)
    workflow = SubscriptionCancelWorkflow(estate.context)

    done = await workflow.cancel(
        subscription_id, CancellationCreate(), client_id="p", correlation_id=None
    )
    again = await workflow.cancel(
        subscription_id, CancellationCreate(), client_id="p", correlation_id=None
    )

    assert done.subscription.status == SubscriptionStatus.CANCELED
    [billing] = estate.billing.subscriptions.values()
    assert billing.status == BillingSubscriptionStatus.CANCELED
    assert (again.already_canceled, estate.billing.recorder.count("cancel_subscription")) == (
        True,
        1,
    )


async def test_discarding_a_failed_order_cancels_the_billing_subscription(
    estate: Estate,
) -> None:
    estate.erp.recorder.fail("upsert_customer", "contract")
    workflow = SubscriptionOrderWorkflow(estate.context)
    with pytest.raises(BackendContractError) as raised:
        await workflow.order(
            request=SubscriptionCreate(customer_id=GLOBEX, price_id=PRO_USD),
            client_id="platform",
            correlation_id=None,
        )
    [billing] = estate.billing.subscriptions.values()
    assert billing.status == BillingSubscriptionStatus.ACTIVE
    replayer = Replayer(estate.sessionmaker, [workflow, SubscriptionCancelWorkflow(estate.context)])

    await replayer.close(
        raised.value.extensions["run_id"], status=RunStatus.DISCARDED, note="no", operator="op"
    )
    assert (await replayer.run_once()).outcomes == {"succeeded": 1}

    [billing] = estate.billing.subscriptions.values()
    assert billing.status == BillingSubscriptionStatus.CANCELED
