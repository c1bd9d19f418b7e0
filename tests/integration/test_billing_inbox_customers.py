"""The billing inbox registers a subscription's billing invoice only if it bills its customer."""

from datetime import UTC, datetime

from sqlalchemy import func, select

from core.errors import PROBLEM_BASE_URI
from core.models.customer import CustomerRow
from core.models.invoice import InvoiceRow
from core.models.price import PriceRow
from core.models.subscription import SubscriptionRow
from core.models.webhook_event import WebhookInboxRow
from core.models.workflow_run import RunStatus, WorkflowRunRow
from process_apis.billing_inbox import BillingInbox
from system_apis.billing.schemas import (
    BillingEvent,
    BillingEventType,
    BillingInvoice,
    BillingInvoiceLine,
    BillingInvoiceStatus,
)
from tests.conftest import Gateway
from tests.integration.test_subscriptions import PRO_USD, ordered
from tests.support.invoices import ACME, invoice_body


async def deliver(
    gateway: Gateway, *, billing_invoice: str, customer: str, reference: str | None = None
) -> None:
    """An `invoice.finalized` of the ordered subscription, billed to `customer`, in the inbox."""
    async with gateway.sessionmaker.begin() as session:
        price_ref = await session.scalar(select(PriceRow.billing_ref).where(PriceRow.id == PRO_USD))
        subscription_ref = await session.scalar(
            select(SubscriptionRow.billing_ref).where(SubscriptionRow.customer_id == ACME)
        )
        event = BillingEvent(
            id=f"evt_{billing_invoice}",
            type=BillingEventType.INVOICE_FINALIZED,
            vendor_type="invoice.finalized",
            occurred_at=datetime.now(UTC),
            invoice=BillingInvoice(
                id=billing_invoice,
                customer_id=customer,
                currency="USD",
                status=BillingInvoiceStatus.OPEN,
                subtotal=9800,
                tax=0,
                total=9800,
                amount_paid=0,
                reference=reference,
                subscription_id=subscription_ref,
                lines=(
                    BillingInvoiceLine(
                        description="Pro",
                        quantity=2,
                        amount=9800,
                        tax=0,
                        price_id=price_ref,
                        proration=False,
                    ),
                ),
            ),
        )
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


async def _registered(gateway: Gateway, billing_invoice: str) -> int:
    async with gateway.sessionmaker() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(InvoiceRow)
            .where(InvoiceRow.billing_ref == billing_invoice)
        )
    return count or 0


async def acme_billing_ref(gateway: Gateway) -> str:
    async with gateway.sessionmaker() as session:
        ref = await session.scalar(select(CustomerRow.billing_ref).where(CustomerRow.id == ACME))
    assert ref is not None
    return ref


async def test_a_billing_invoice_of_another_customer_is_queued_not_registered(
    gateway: Gateway,
) -> None:
    await ordered(gateway)
    await deliver(gateway, billing_invoice="in_intruder", customer="cus_somebody_else")
    report = await BillingInbox(gateway.app.state.process).drain()
    assert report.consumed == 1
    assert report.invoices == []
    assert await _registered(gateway, "in_intruder") == 0
    ops = await gateway.client_with(["ops:read"], client_id="finance-ops")
    [entry] = (await ops.get("/ops/v1/exceptions")).json()["items"]
    await ops.aclose()
    assert entry["subject_id"] == "in_intruder"
    assert entry["error_type"] == PROBLEM_BASE_URI + "billing-customer-mismatch"
    assert "cus_somebody_else" in entry["error_detail"]
    assert await acme_billing_ref(gateway) in entry["error_detail"]


async def test_a_billing_invoice_of_the_subscriptions_customer_is_registered(
    gateway: Gateway,
) -> None:
    await ordered(gateway)
    await deliver(gateway, billing_invoice="in_ok", customer=await acme_billing_ref(gateway))
    report = await BillingInbox(gateway.app.state.process).drain()
    assert len(report.invoices) == 1
    assert await _registered(gateway, "in_ok") == 1


async def test_metadata_naming_an_invoice_of_another_customer_links_nothing(
    gateway: Gateway,
) -> None:
    await ordered(gateway)
    created = await gateway.client.post("/v1/invoices", json=invoice_body())
    invoice_id = created.json()["id"]
    await deliver(
        gateway, billing_invoice="in_meta", customer="cus_somebody_else", reference=invoice_id
    )
    await BillingInbox(gateway.app.state.process).drain()
    assert (await gateway.client.get(f"/v1/invoices/{invoice_id}")).json()["refs"][
        "billing"
    ] is None
    async with gateway.sessionmaker() as session:
        queued = await session.scalar(
            select(WorkflowRunRow).where(
                WorkflowRunRow.subject_id == "in_meta", WorkflowRunRow.status == RunStatus.FAILED
            )
        )
    assert queued is not None
