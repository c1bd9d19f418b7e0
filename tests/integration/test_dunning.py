"""Dunning: a payment failure opens it, the grace passing suspends the account in the
support desk, the entitlements, the ERP and the CRM, and a payment reactivates each."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from app.seed import demo_id
from core.models.customer import CustomerRow
from core.models.dunning import DunningCaseRow
from core.models.event_outbox import EventOutboxRow
from core.models.webhook_event import WebhookInboxRow
from core.models.workflow_run import RunStatus, WorkflowRunRow
from process_apis.billing_inbox import BillingInbox
from process_apis.deps import ProcessContext
from process_apis.dunning.schedule import DunningSchedule
from process_apis.dunning.workflow import REACTIVATION, SUSPENSION
from process_apis.worker import BackgroundWork, replayer
from sandboxes import stripe
from system_apis.billing.schemas import (
    BillingEvent,
    BillingEventType,
    BillingInvoice,
    BillingInvoiceStatus,
)
from system_apis.support.schemas import SupportCaseCreate
from tests.conftest import Gateway, GatewayFactory
from tests.integration.test_subscriptions import billing, desk, desk_entitlements, ordered
from tests.support.faults import switchable_backends
from tests.support.invoices import ACME, US_COMPANY

US_ENTITY = demo_id("legal_entity", 1)
WEBHOOK_URL = "http://gateway.test/webhooks/billing/stripe"

TODAY = date(2026, 12, 6)
GRACE = 14  # the default `LEDGERGATE_DUNNING_GRACE_DAYS`


def on(gateway: Gateway, day: date) -> ProcessContext:
    """The gateway's process context with `day` as today."""
    context: ProcessContext = gateway.app.state.process
    return dataclasses.replace(context, today=lambda: day)


async def billing_customer(gateway: Gateway) -> str:
    async with gateway.sessionmaker() as session:
        ref = await session.scalar(select(CustomerRow.billing_ref).where(CustomerRow.id == ACME))
    assert ref is not None
    return ref


async def deliver(
    gateway: Gateway, event_id: str, kind: BillingEventType, *, invoice: str = "in_failed"
) -> None:
    """A billing event about `invoice` of ACME's billing customer, in the inbox."""
    paid = kind == BillingEventType.INVOICE_PAID
    event = BillingEvent(
        id=event_id,
        type=kind,
        vendor_type=kind.value,
        occurred_at=datetime.now(UTC),
        invoice=BillingInvoice(
            id=invoice,
            customer_id=await billing_customer(gateway),
            currency="USD",
            status=BillingInvoiceStatus.PAID if paid else BillingInvoiceStatus.OPEN,
            subtotal=9800,
            tax=0,
            total=9800,
            amount_paid=9800 if paid else 0,
            reference=None,
        ),
    )
    async with gateway.sessionmaker.begin() as session:
        session.add(
            WebhookInboxRow(
                provider="stripe",
                event_id=event.id,
                event_type=event.type.value,
                vendor_type=event.vendor_type,
                payload=event.model_dump(mode="json"),
                received_at=datetime.now(UTC),
            )
        )


async def fail_payment(gateway: Gateway, event_id: str = "evt_failed_1") -> None:
    await deliver(gateway, event_id, BillingEventType.INVOICE_PAYMENT_FAILED)
    await BillingInbox(on(gateway, TODAY)).drain()


async def pay(gateway: Gateway, event_id: str = "evt_paid_1") -> None:
    await deliver(gateway, event_id, BillingEventType.INVOICE_PAID)
    await BillingInbox(on(gateway, TODAY)).drain()


async def dunning(gateway: Gateway) -> dict[str, Any]:
    response = await gateway.client.get(f"/v1/customers/{ACME}")
    assert response.status_code == 200, response.text
    state: dict[str, Any] = response.json()["dunning"]
    return state


async def event_types(gateway: Gateway) -> list[str]:
    async with gateway.sessionmaker() as session:
        types = await session.scalars(
            select(EventOutboxRow.type)
            .where(EventOutboxRow.subject == ACME)
            .order_by(EventOutboxRow.sequence)
        )
    return [
        t.split(".")[2] + "." + t.split(".")[3]
        for t in types
        if ".dunning." in t or ".account." in t
    ]


def statuses(gateway: Gateway) -> dict[str, Any]:
    """The account as each system holds it."""
    erp = gateway.backends.erp_sandbox
    crm = gateway.backends.crm_sandbox
    assert erp is not None
    assert crm is not None
    customers = erp.books[US_COMPANY].customers.values()
    [erp_customer] = [c for c in customers if c.number.startswith("C")]
    held = desk_entitlements(gateway, ACME)
    return {
        "support": desk(gateway).account(ACME).status,
        "entitlements": sorted(state for _tier, state in held.values()),
        "erp": erp_customer.blocked,
        "crm": crm.account(ACME).status,
    }


SUSPENDED = {"support": "suspended", "entitlements": ["revoked"], "erp": "All", "crm": "suspended"}


async def runs(gateway: Gateway, workflow: str) -> list[WorkflowRunRow]:
    async with gateway.sessionmaker() as session:
        found = await session.scalars(
            select(WorkflowRunRow).where(WorkflowRunRow.workflow == workflow)
        )
        return list(found)


async def test_a_failed_payment_suspends_everywhere_once_the_grace_has_passed(
    gateway: Gateway,
) -> None:
    await ordered(gateway)
    active = statuses(gateway)
    assert active == {"support": "active", "entitlements": ["active"], "erp": " ", "crm": "active"}

    await fail_payment(gateway)
    opened = await dunning(gateway)
    assert opened["status"] == "dunning"
    assert opened["grace_ends_at"] == f"{TODAY + timedelta(days=GRACE)}T00:00:00Z"
    ops = await gateway.client_with(["ops:read"], client_id="finance-ops")
    listed = (await ops.get("/ops/v1/dunning")).json()["items"]
    await ops.aclose()
    assert [(a["customer_id"], a["status"]) for a in listed] == [(ACME, "dunning")]

    last_grace_day = on(gateway, TODAY + timedelta(days=GRACE - 1))
    assert await DunningSchedule(last_grace_day).suspend_due() == 0
    assert statuses(gateway) == active
    assert await DunningSchedule(on(gateway, TODAY + timedelta(days=GRACE))).suspend_due() == 1

    assert statuses(gateway) == SUSPENDED
    assert (await dunning(gateway))["status"] == "suspended"
    [run] = await runs(gateway, SUSPENSION)
    assert run.status == RunStatus.SUCCEEDED
    case = await gateway.backends.support.open_case(
        SupportCaseCreate(customer_id=ACME, subject="Down"), idempotency_key="case-1"
    )
    assert case.priority.value == "P4"  # no premium queue
    assert desk(gateway).tickets[case.id].flags == ("account_suspended",)
    assert await event_types(gateway) == ["dunning.opened", "account.suspended"]


async def test_the_legal_entitys_grace_period_decides_when_to_suspend(gateway: Gateway) -> None:
    await ordered(gateway)
    ops = await gateway.client_with(["refdata:read", "refdata:write"], client_id="finance-ops")
    url = f"/ops/v1/legal-entities/{US_ENTITY}"
    version = (await ops.get(url)).headers["ETag"]
    changed = await ops.patch(url, json={"dunning_grace_days": 3}, headers={"If-Match": version})
    await ops.aclose()
    assert changed.status_code == 200, changed.text
    assert changed.json()["dunning_grace_days"] == 3

    await fail_payment(gateway)

    assert (await dunning(gateway))["grace_ends_at"] == f"{TODAY + timedelta(days=3)}T00:00:00Z"
    assert await DunningSchedule(on(gateway, TODAY + timedelta(days=3))).suspend_due() == 1
    assert statuses(gateway) == SUSPENDED


async def test_a_payment_reactivates_every_system(gateway: Gateway) -> None:
    await ordered(gateway)
    active = statuses(gateway)
    await fail_payment(gateway)
    await DunningSchedule(on(gateway, TODAY + timedelta(days=GRACE))).suspend_due()
    assert statuses(gateway) == SUSPENDED

    await pay(gateway)

    assert statuses(gateway)["support"] == "active"
    assert statuses(gateway)["erp"] == " "
    assert statuses(gateway)["crm"] == "active"
    held = desk_entitlements(gateway, ACME)
    assert "active" in {state for _tier, state in held.values()}
    assert active["entitlements"] == ["active"]
    assert (await dunning(gateway))["status"] == "none"
    [run] = await runs(gateway, REACTIVATION)
    assert run.status == RunStatus.SUCCEEDED
    assert await event_types(gateway) == [
        "dunning.opened",
        "account.suspended",
        "account.reactivated",
    ]


async def test_a_payment_during_grace_closes_dunning_without_suspending(gateway: Gateway) -> None:
    await ordered(gateway)
    active = statuses(gateway)
    await fail_payment(gateway)
    await pay(gateway)

    assert await DunningSchedule(on(gateway, TODAY + timedelta(days=GRACE))).suspend_due() == 0
    assert statuses(gateway) == active
    assert (await dunning(gateway))["status"] == "none"
    assert await runs(gateway, SUSPENSION) == []
    assert await event_types(gateway) == ["dunning.opened", "dunning.closed"]


async def test_duplicate_failures_and_payments_act_once(gateway: Gateway) -> None:
    await ordered(gateway)
    await fail_payment(gateway, "evt_failed_1")
    await fail_payment(gateway, "evt_failed_retry")  # billing's next attempt failed too
    schedule = DunningSchedule(on(gateway, TODAY + timedelta(days=GRACE)))
    assert await schedule.suspend_due() == 1
    assert await schedule.suspend_due() == 0
    await pay(gateway, "evt_paid_1")
    await pay(gateway, "evt_paid_again")

    async with gateway.sessionmaker() as session:
        cases = list(await session.scalars(select(DunningCaseRow)))
    assert [(c.status, c.closed_reason) for c in cases] == [("closed", "reactivated")]
    assert len(await runs(gateway, SUSPENSION)) == len(await runs(gateway, REACTIVATION)) == 1
    assert await event_types(gateway) == [
        "dunning.opened",
        "account.suspended",
        "account.reactivated",
    ]


async def test_a_suspension_failing_halfway_waits_in_the_queue_and_a_replay_finishes_it(
    make_gateway: GatewayFactory,
) -> None:
    switches, wrap = switchable_backends()

    gateway = await make_gateway(wrap=wrap)
    await ordered(gateway)
    await fail_payment(gateway)
    switches["erp"].down = True
    await DunningSchedule(on(gateway, TODAY + timedelta(days=GRACE))).suspend_due()

    half = statuses(gateway)
    assert (half["support"], half["erp"], half["crm"]) == ("suspended", " ", "active")
    [run] = await runs(gateway, SUSPENSION)
    assert run.status == RunStatus.PENDING_RETRY
    assert run.result == {
        "suspended": True,
        "done": ["support_account", "entitlements"],
        "left": ["erp_customer", "crm_account"],
    }
    ops = await gateway.client_with(["ops:read", "ops:write"], client_id="finance-ops")
    [entry] = (await ops.get("/ops/v1/exceptions")).json()["items"]
    assert entry["id"] == run.id
    followed = (await gateway.client.get(f"/v1/runs/{run.id}")).json()
    steps = {step["name"]: step["status"] for step in followed["steps"]}
    assert steps == {
        "support_account": "succeeded",
        "entitlements": "succeeded",
        "erp_customer": "failed",
    }

    switches["erp"].down = False
    replayed = await ops.post(f"/ops/v1/exceptions/{run.id}/replay")
    await ops.aclose()
    assert replayed.status_code < 300, replayed.text
    assert statuses(gateway) == SUSPENDED
    [run] = await runs(gateway, SUSPENSION)
    assert run.status == RunStatus.SUCCEEDED
    assert run.attempts == 2


async def test_a_payment_while_the_suspension_waits_reactivates_and_supersedes_it(
    make_gateway: GatewayFactory,
) -> None:
    switches, wrap = switchable_backends()

    gateway = await make_gateway(wrap=wrap)
    await ordered(gateway)
    active = statuses(gateway)
    await fail_payment(gateway)
    switches["erp"].down = True
    await DunningSchedule(on(gateway, TODAY + timedelta(days=GRACE))).suspend_due()
    switches["erp"].down = False

    await pay(gateway)
    [suspension] = await runs(gateway, SUSPENSION)
    await replayer(gateway.app.state.process).replay(suspension.id)

    assert statuses(gateway) == active
    [suspension] = await runs(gateway, SUSPENSION)
    assert suspension.status == RunStatus.SUCCEEDED
    assert suspension.result == {"superseded": True, "case_status": "closed"}


async def test_a_declined_renewal_in_billing_runs_dunning_end_to_end(gateway: Gateway) -> None:
    """Billing's own signed webhooks: the renewal is declined, the subscription goes
    `past_due`, the grace passes, and paying the renewal reactivates the account."""
    state = billing(gateway)
    state.webhook_endpoints.append(
        stripe.WebhookEndpoint(url=WEBHOOK_URL, secret="whsec_sandbox", app=gateway.app)
    )
    await ordered(gateway)
    active = statuses(gateway)
    inbox = BillingInbox(on(gateway, TODAY))
    await inbox.drain()
    customer = state.customers[await billing_customer(gateway)]
    customer["invoice_settings"]["default_payment_method"] = "pm_card_chargeCustomerFail"
    [subscription] = [
        sub for sub in state.subscriptions.values() if sub["customer"] == customer["id"]
    ]
    subscription["current_period_end"] = state.clock() - 1  # the period is over: renew it

    await gateway.backends.billing.list_invoices(customer_id=customer["id"])  # renews
    await inbox.drain()

    assert (await dunning(gateway))["status"] == "dunning"
    await DunningSchedule(on(gateway, TODAY + timedelta(days=GRACE))).suspend_due()
    assert statuses(gateway) == SUSPENDED

    customer["invoice_settings"]["default_payment_method"] = "pm_card_visa"
    [renewal] = [
        i["id"]
        for i in state.invoices.values()
        if i["customer"] == customer["id"] and not i["paid"]
    ]
    await gateway.backends.billing.pay_invoice(renewal, idempotency_key="pay-renewal")
    await inbox.drain()

    assert statuses(gateway) == active
    assert (await dunning(gateway))["status"] == "none"
    assert await event_types(gateway) == [
        "dunning.opened",
        "account.suspended",
        "account.reactivated",
    ]


async def test_the_worker_suspends_on_its_schedule_and_a_resync_keeps_the_suspension(
    gateway: Gateway,
) -> None:
    await ordered(gateway)
    await fail_payment(gateway)
    work = BackgroundWork(on(gateway, TODAY + timedelta(days=GRACE)))
    try:
        await work.run_once()
    finally:
        await work.aclose()
    assert statuses(gateway) == SUSPENDED

    resynced = await gateway.client.post(
        f"/v1/customers/{ACME}/entitlements/resync", headers={"Idempotency-Key": "resync-1"}
    )
    assert resynced.status_code == 200, resynced.text
    assert resynced.json()["support"] == []
    assert statuses(gateway) == SUSPENDED
