"""A renewal billing collected with an amendment's prorations, on SQLite and PostgreSQL,
on Business Central and NetSuite, driven by billing's own events: a mid-cycle upgrade
posts its ERP sales invoice (a downgrade its credit memo) at once, billing collects the
proration with the next renewal, and that renewal's `invoice.paid` settles the renewal's
ERP invoice and the amendment's document together, or nothing at all (an exception,
never a part payment)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import select

from core.models.amendment_proration import AmendmentProrationRow
from core.models.customer import CustomerRow
from core.models.payment import PaymentRow
from core.models.payment_application import PaymentApplicationRow
from core.models.workflow_run import RunStatus
from process_apis.credit_memo_steps import payment_journal
from process_apis.worker import replayer
from system_apis.erp.schemas import ErpCustomerPaymentCreate
from tests.conftest import GatewayFactory
from tests.integration.test_exception_queue import ops_client
from tests.integration.test_payment_reversals import REVERSER, reverse
from tests.integration.test_payments_netted import (
    assert_settled,
    first_month_billed,
    memo_not_applied,
    owed,
    payment_run,
    portal_invoice,
)
from tests.integration.test_reconciliation import reconciliation
from tests.integration.test_refunds import stripe_api
from tests.integration.test_revenue_twelve_months import Calendar, invoice_ids, on
from tests.integration.test_settlements import pay
from tests.integration.test_subscriptions import amend
from tests.support.calendar import month
from tests.support.erps import ErpCase, on_erp
from tests.support.faults import LostAnswerTransport

ANCHOR_DAY = 10


async def renewal_after_an_amendment(
    erp_case: ErpCase,
    quantity: int,
    before_renewal: Callable[[dict[str, Any]], Any] | None = None,
    *,
    linked: bool = True,
) -> tuple[dict[str, Any], dict[str, Any], PaymentRow]:
    """A monthly subscription of two seats billed and paid, amended to `quantity` seats on
    the 20th (billing prorates it on the next invoice), then renewed: (the renewal invoice,
    the amendment, the renewal's payment); `linked`: whether the amendment is linked to the
    renewal (billing's proration lines agree with it)."""
    gateway = erp_case.gateway
    async with stripe_api(gateway) as stripe_client:
        calendar = Calendar(gateway, stripe_client)
        subscription, first_id = await first_month_billed(gateway, calendar, "order-collected")

        await calendar.to(on(0, 20))
        response = await amend(gateway, subscription["id"], "amend-collected", quantity=quantity)
        assert response.status_code == 201, response.text
        amendment: dict[str, Any] = response.json()
        if before_renewal is not None:
            await before_renewal(amendment)

        await calendar.to(on(1, ANCHOR_DAY))
        [renewal_id] = await invoice_ids(gateway, subscription["id"]) - {first_id}
    renewal: dict[str, Any] = (await gateway.client.get(f"/v1/invoices/{renewal_id}")).json()
    async with gateway.sessionmaker() as session:
        payment = await session.scalar(
            select(PaymentRow).where(PaymentRow.invoice_id == renewal_id)
        )
        proration = await session.get_one(AmendmentProrationRow, amendment["amendment_id"])
    assert payment is not None
    # billing collected the proration with the renewal: the amendment is linked to it
    adjustment = amendment["erp_adjustment"]
    sign = -1 if adjustment["kind"] == "credit_memo" else 1
    assert proration.invoice_id == (renewal_id if linked else None)
    assert payment.amount == renewal["total"] + sign * adjustment["total_including_tax"]
    return renewal, amendment, payment


async def assert_reconciled(erp_case: ErpCase) -> None:
    for period in (month(0), month(1)):
        body = await reconciliation(erp_case.gateway, period)
        differences = [d for d in body["differences"] if d["document_type"] != "deferred_revenue"]
        assert differences == [], __import__("json").dumps(differences, indent=1)


async def test_an_upgrade_collected_with_the_renewal_is_paid_with_it(
    make_gateway: GatewayFactory, erp_kind: str
) -> None:
    erp_case = await on_erp(make_gateway, erp_kind)
    gateway = erp_case.gateway
    renewal, amendment, payment = await renewal_after_an_amendment(erp_case, quantity=3)
    upgrade = amendment["erp_adjustment"]
    assert upgrade["kind"] == "sales_invoice"

    # the cash pays the renewal's ERP invoice and the upgrade's, each with its own payment
    run, steps = await payment_run(gateway, payment.id)
    assert run.status == "succeeded", (run.error_type, run.error_detail)
    async with gateway.sessionmaker() as session:
        assert (await session.get_one(PaymentRow, payment.id)).status == "applied"
    assert steps["apply_payment"] == steps[f"apply_payment:{amendment['amendment_id']}"]
    assert steps["apply_payment"] == "succeeded"
    # the invoice shows what the payment paid of it, the upgrade's part not
    await assert_settled(gateway, renewal["id"], cash=renewal["total"], credit=0)
    erp = gateway.backends.erp
    for document in (renewal["refs"]["erp"], upgrade["document_id"]):
        assert (await erp.get_sales_invoice(erp_case.company_id, document)).remaining_amount == 0
    payments = erp_case.payments()
    assert payments[payment.id] == renewal["total"]
    assert payments[f"{payment.id}-A1"] == upgrade["total_including_tax"]
    async with gateway.sessionmaker() as session:
        [application] = (await session.scalars(select(PaymentApplicationRow))).all()
    assert (application.id, application.amount) == (
        f"{payment.id}-A1",
        upgrade["total_including_tax"],
    )
    # the partner sees each part of the payment where it was applied, summing to it
    [shown] = (await portal_invoice(gateway, renewal["id"]))["payment"]["payments"]
    assert (shown["amount"], shown["amount_applied"]) == (payment.amount, renewal["total"])
    assert shown["parts"] == [
        {
            "amendment_id": amendment["amendment_id"],
            "erp_invoice_number": upgrade["document_number"],
            "amount": application.amount,
            "erp_document_number": application.erp_document_number,
        }
    ]
    assert shown["amount_applied"] + application.amount == payment.amount

    # nothing waits in the exception queue
    ops = await ops_client(gateway)
    queue = (await ops.get("/ops/v1/exceptions")).json()
    await ops.aclose()
    assert queue["items"] == [], queue

    # billing, the gateway and the ERP agree on every document, the payment's parts too
    await assert_reconciled(erp_case)

    # a reversal takes back each part: both invoices owe again, and the books agree
    reverser = await gateway.client_with(REVERSER, client_id="finance-reverser")
    reversed_ = await reverse(reverser, payment.id, "reverse-collected")
    await reverser.aclose()
    assert reversed_.status_code == 201, reversed_.text
    assert reversed_.json()["status"] == "reversed"
    payments = erp_case.payments()
    assert payments[f"{payment.id}-R"] == -renewal["total"]
    assert payments[f"{payment.id}-A1-R"] == -upgrade["total_including_tax"]
    found = await erp.get_sales_invoice(erp_case.company_id, upgrade["document_id"])
    assert found.remaining_amount == upgrade["total_including_tax"]
    assert await owed(erp_case, renewal) == renewal["total"]
    await assert_reconciled(erp_case)


async def test_a_downgrade_collected_with_the_renewal_applies_its_memo(
    make_gateway: GatewayFactory,
) -> None:
    erp_case = await on_erp(make_gateway, "netsuite")
    gateway = erp_case.gateway
    renewal, amendment, payment = await renewal_after_an_amendment(erp_case, quantity=1)
    memo = amendment["erp_adjustment"]
    assert memo["kind"] == "credit_memo"

    # the memo and the cash together pay the renewal's ERP invoice
    run, steps = await payment_run(gateway, payment.id)
    assert run.status == "succeeded", (run.error_type, run.error_detail)
    assert steps[f"apply_credit_memo:{amendment['amendment_id']}"] == "succeeded"
    # the memo's credit is no longer due: the renewal owes nothing, as in the ERP
    await assert_settled(
        gateway, renewal["id"], cash=payment.amount, credit=memo["total_including_tax"]
    )
    assert erp_case.unapplied_credit(amendment["amendment_id"]) == 0
    assert erp_case.payments()[payment.id] == payment.amount
    await assert_reconciled(erp_case)


async def test_a_downgrade_business_central_cannot_apply_waits_in_the_queue(
    make_gateway: GatewayFactory,
) -> None:
    erp_case = await on_erp(make_gateway, "business_central")
    gateway = erp_case.gateway
    renewal, amendment, payment = await renewal_after_an_amendment(erp_case, quantity=1)

    # Business Central's API applies no posted memo: nothing is applied, the cash neither
    run = await memo_not_applied(erp_case, renewal, payment, amendment["amendment_id"])
    ops = await ops_client(gateway)
    queue = (await ops.get("/ops/v1/exceptions", params={"error_class": "business"})).json()
    assert run.id in [item["id"] for item in queue["items"]], queue

    # given up, the renewal is paid directly: such a payment pays the renewal alone
    discarded = await ops.post(f"/ops/v1/exceptions/{run.id}/discard", json={"note": "by hand"})
    await ops.aclose()
    assert discarded.status_code == 200, discarded.text
    paid = await pay(gateway, renewal, renewal["total"], "pay-renewal-directly")
    assert paid.status_code == 201, paid.text
    direct = paid.json()
    assert direct["status"] == "applied", direct
    run, steps = await payment_run(gateway, direct["id"])
    assert not [name for name in steps if ":" in name and "eligibility" not in name], steps
    assert erp_case.payments()[direct["id"]] == renewal["total"]


async def test_an_upgrade_the_erp_was_paid_for_elsewhere_is_an_exception(
    make_gateway: GatewayFactory, erp_kind: str
) -> None:
    erp_case = await on_erp(make_gateway, erp_kind)
    gateway = erp_case.gateway
    erp, company = gateway.backends.erp, erp_case.company_id

    async def pay_part_of_the_upgrade(amendment: dict[str, Any]) -> None:
        """Someone applies cash to the upgrade's ERP invoice in the ERP itself."""
        journal = await erp.ensure_customer_payment_journal(
            company, payment_journal(gateway.app.state.process.settings.ledger)
        )
        upgrade = amendment["erp_adjustment"]
        async with gateway.sessionmaker() as session:
            customer = await session.get_one(CustomerRow, amendment["subscription"]["customer_id"])
        await erp.apply_customer_payment(
            company,
            journal.id,
            ErpCustomerPaymentCreate(
                external_document_number="cheque-by-hand",
                customer_number=customer.erp_number,
                currency=upgrade["currency"],
                posting_date=upgrade["posting_date"],
                amount=100,
                applies_to_invoice_id=upgrade["document_id"],
            ),
        )

    renewal, amendment, payment = await renewal_after_an_amendment(
        erp_case, quantity=3, before_renewal=pay_part_of_the_upgrade
    )
    run, steps = await payment_run(gateway, payment.id)
    assert run.status == "failed", run.status
    assert (run.error_type or "").endswith("/payment-exceeds-remaining"), run.error_detail
    assert "apply_payment" not in steps
    assert not {payment.id, f"{payment.id}-A1"} & set(erp_case.payments())
    found = await erp.get_sales_invoice(company, renewal["refs"]["erp"])
    assert found.remaining_amount == renewal["total"]


async def test_a_payment_interrupted_after_the_renewal_part_resumes_without_applying_twice(
    make_gateway: GatewayFactory,
) -> None:
    lost: dict[str, LostAnswerTransport] = {}

    def wrap(name: str, inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        lost[name] = LostAnswerTransport(inner)
        return lost[name]

    erp_case = await on_erp(make_gateway, "netsuite", wrap=wrap)
    gateway = erp_case.gateway

    async def lose_the_upgrade_parts_answer(amendment: dict[str, Any]) -> None:
        """The renewal's part is applied, then the upgrade's created, its answer lost."""
        lost[erp_case.backend].lose = lambda r: (
            r.method == "POST"
            and r.url.path.endswith("/!transform/customerPayment")
            and b"-A1" in r.content
        )

    renewal, amendment, payment = await renewal_after_an_amendment(
        erp_case, quantity=3, before_renewal=lose_the_upgrade_parts_answer
    )
    assert lost[erp_case.backend].lost == 1
    run, steps = await payment_run(gateway, payment.id)
    assert run.status in ("pending_retry", "failed"), run.status
    assert steps["apply_payment"] == "succeeded"

    assert await replayer(gateway.app.state.process).replay(run.id) == RunStatus.SUCCEEDED
    upgrade = amendment["erp_adjustment"]
    payments = erp_case.payments()
    assert payments[payment.id] == renewal["total"]
    assert payments[f"{payment.id}-A1"] == upgrade["total_including_tax"]
    erp = gateway.backends.erp
    for document in (renewal["refs"]["erp"], upgrade["document_id"]):
        assert (await erp.get_sales_invoice(erp_case.company_id, document)).remaining_amount == 0
    invoice = (await gateway.client.get(f"/v1/invoices/{renewal['id']}")).json()
    assert invoice["status"] == "paid"
    await assert_reconciled(erp_case)


async def test_proration_lines_that_match_no_amendment_link_none(
    make_gateway: GatewayFactory,
) -> None:
    erp_case = await on_erp(make_gateway, "netsuite")
    gateway = erp_case.gateway
    gateway_net: dict[str, int] = {}

    async def net_off_by_a_cent(amendment: dict[str, Any]) -> None:
        """The amendment's recorded net disagrees with billing's proration lines."""
        async with gateway.sessionmaker() as session:
            row = await session.get_one(AmendmentProrationRow, amendment["amendment_id"])
            row.amount += 1
            gateway_net["amount"] = row.amount
            await session.commit()

    _, amendment, payment = await renewal_after_an_amendment(
        erp_case, quantity=3, before_renewal=net_off_by_a_cent, linked=False
    )
    async with gateway.sessionmaker() as session:
        row = await session.get_one(AmendmentProrationRow, amendment["amendment_id"])
    assert row.amount == gateway_net["amount"]
    # the payment is more than the renewal's ERP invoice owes: an exception, as before
    run, _ = await payment_run(gateway, payment.id)
    assert run.status == "failed"
    assert (run.error_type or "").endswith("/payment-exceeds-remaining"), run.error_detail
    assert payment.id not in erp_case.payments()
