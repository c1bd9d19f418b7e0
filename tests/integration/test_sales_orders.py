"""Quote → ERP sales order: the credit check in the ERP, the mapped sales order in Business
Central or NetSuite, its status kept in sync, and the hand-over to subscription ordering;
on SQLite and PostgreSQL, with the sandboxes."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from core.errors import PROBLEM_BASE_URI
from core.models.customer import CustomerRow
from core.models.event_outbox import EventOutboxRow
from core.models.price import PriceRow
from core.models.product import ProductRow
from core.models.sales_order import SalesOrderRow
from core.models.subscription import SubscriptionRow
from core.models.workflow_run import RunStatus, WorkflowRunRow
from process_apis.deps import ProcessContext
from process_apis.orders.sync import OrderStatusSync
from process_apis.reconciliation.service import reconcile
from process_apis.worker import replayer
from system_apis.erp.schemas import ErpCustomerUpsert
from tests.conftest import Gateway, GatewayFactory
from tests.integration.test_subscriptions import ENTERPRISE_USD, PRO_USD
from tests.support.erps import US_ENTITY, ErpCase, on_erp
from tests.support.faults import LostAnswerTransport
from tests.support.invoices import ACME, invoice_body

TODAY = date.today()
# PRO_USD is 4900 a month, ENTERPRISE_USD 19900 (the demo catalog).
LINES = [{"price_id": PRO_USD, "quantity": 3}, {"price_id": ENTERPRISE_USD, "quantity": 1}]
NET = 3 * 4900 + 19900


def quote(quote_id: str, *, start: date = TODAY, **body: Any) -> dict[str, Any]:
    return {
        "quote_id": quote_id,
        "customer_id": ACME,
        "service_start": start.isoformat(),
        "lines": LINES,
        **body,
    }


async def place(gateway: Gateway, key: str, body: dict[str, Any]) -> httpx.Response:
    return await gateway.client.post("/v1/orders", json=body, headers={"Idempotency-Key": key})


def on(gateway: Gateway, day: date) -> ProcessContext:
    context: ProcessContext = gateway.app.state.process
    return dataclasses.replace(context, today=lambda: day)


async def acme_number(gateway: Gateway) -> str:
    async with gateway.sessionmaker() as session:
        number = await session.scalar(select(CustomerRow.erp_number).where(CustomerRow.id == ACME))
    assert number is not None
    return number


async def with_credit(erp: ErpCase, *, limit: int | None, blocked: bool = False) -> None:
    """ACME in the ERP (as an earlier sync left it) with this credit limit and block."""
    number = await acme_number(erp.gateway)
    await erp.gateway.backends.erp.upsert_customer(
        erp.company_id,
        ErpCustomerUpsert(number=number, display_name="Acme Robotics", currency="USD"),
    )
    erp.set_credit(number, limit=limit, blocked=blocked)


async def order_events(gateway: Gateway, order_id: str) -> list[str]:
    async with gateway.sessionmaker() as session:
        types = await session.scalars(
            select(EventOutboxRow.type)
            .where(EventOutboxRow.subject == order_id)
            .order_by(EventOutboxRow.sequence)
        )
    prefix = "com.ledgergate.order."
    return [t.removeprefix(prefix).removesuffix(".v1") for t in types if t.startswith(prefix)]


async def run_queue(gateway: Gateway) -> None:
    """One pass of the replay worker over the due runs."""
    await replayer(gateway.app.state.process).run_once()


async def test_an_accepted_quote_becomes_an_erp_sales_order_and_its_subscriptions(
    erp_case: ErpCase,
) -> None:
    gateway = erp_case.gateway
    response = await place(gateway, "quote-1", quote("Q-1"))
    assert response.status_code == 201, response.text
    order = response.json()["order"]
    assert order["status"] == "in_service"
    assert order["subtotal"] == NET
    assert order["erp_order"]["subtotal"] == NET
    assert order["erp_order"]["status"] == "open"
    assert [line["erp_item"] for line in order["lines"]] == ["LG-PRO", "LG-ENT"]
    assert erp_case.sales_order(order["id"]) == (2, NET)
    assert await order_events(gateway, order["id"]) == ["created", "status_changed"]

    # The existing order → subscription workflow takes over, one subscription per line.
    subscription_ids = [line["subscription_id"] for line in order["lines"]]
    assert all(subscription_ids)
    await run_queue(gateway)
    async with gateway.sessionmaker() as session:
        subscriptions = {
            row.id: (row.status, row.price_id, row.quantity)
            for row in await session.scalars(
                select(SubscriptionRow).where(SubscriptionRow.id.in_(subscription_ids))
            )
        }
    assert subscriptions == {
        subscription_ids[0]: ("active", PRO_USD, 3),
        subscription_ids[1]: ("active", ENTERPRISE_USD, 1),
    }

    # The same request, and the same quote under another key, answer the same order.
    again = await place(gateway, "quote-1", quote("Q-1"))
    assert again.headers.get("Idempotent-Replayed") == "true"
    other_key = await place(gateway, "quote-1-bis", quote("Q-1"))
    assert other_key.status_code == 200, other_key.text
    assert other_key.json()["order"]["id"] == order["id"]
    changed = await place(gateway, "quote-1-ter", quote("Q-1", lines=LINES[:1]))
    assert changed.status_code == 422
    assert changed.json()["type"] == f"{PROBLEM_BASE_URI}quote-already-ordered"
    assert erp_case.sales_order(order["id"]) == (2, NET)

    read = await gateway.client.get(f"/v1/orders/{order['id']}")
    assert read.status_code == 200
    assert read.json()["lines"][0]["subscription_id"] == subscription_ids[0]


async def test_a_customer_over_its_credit_limit_is_refused(erp_case: ErpCase) -> None:
    gateway = erp_case.gateway
    await with_credit(erp_case, limit=NET - 1)
    response = await place(gateway, "quote-2", quote("Q-2"))
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"] == f"{PROBLEM_BASE_URI}customer-credit-refused"
    assert (problem["reason"], problem["credit_limit"], problem["order_amount"]) == (
        "over_credit_limit",
        NET - 1,
        NET,
    )
    order = (await gateway.client.get(f"/v1/orders/{problem['order_id']}")).json()
    assert order["status"] == "rejected"
    assert order["last_run"]["status"] == "rejected"
    assert erp_case.sales_order(order["id"]) is None
    assert await order_events(gateway, order["id"]) == ["rejected"]

    # Finance raises the limit; the CRM sends the same quote again and it is booked.
    erp_case.set_credit(await acme_number(gateway), limit=NET)
    again = await place(gateway, "quote-2-again", quote("Q-2"))
    assert again.status_code == 200, again.text
    assert again.json()["order"]["id"] == order["id"]
    assert again.json()["order"]["status"] == "in_service"
    assert erp_case.sales_order(order["id"]) == (2, NET)
    assert await order_events(gateway, order["id"]) == ["rejected", "created", "status_changed"]


async def test_a_blocked_customer_is_refused(erp_case: ErpCase) -> None:
    await with_credit(erp_case, limit=None, blocked=True)
    response = await place(erp_case.gateway, "quote-3", quote("Q-3"))
    assert response.status_code == 422, response.text
    assert response.json()["reason"] == "blocked"
    assert erp_case.sales_order(response.json()["order_id"]) is None


async def test_a_held_order_waits_for_finance_and_a_replay_books_it(
    make_gateway: GatewayFactory, erp_kind: str
) -> None:
    erp = await on_erp(make_gateway, erp_kind, order_credit_policy="hold")
    gateway = erp.gateway
    await with_credit(erp, limit=1000)
    start = TODAY + timedelta(days=10)
    response = await place(gateway, "quote-4", quote("Q-4", start=start))
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"] == f"{PROBLEM_BASE_URI}customer-credit-held"
    order_id, run_id = problem["order_id"], problem["run_id"]
    order = (await gateway.client.get(f"/v1/orders/{order_id}")).json()
    assert (order["status"], order["last_run"]["status"]) == ("held", "failed")
    held_again = await place(gateway, "quote-4-again", quote("Q-4", start=start))
    assert held_again.status_code == 422
    assert (held_again.json()["type"], held_again.json()["run_id"]) == (problem["type"], run_id)

    erp.set_credit(await acme_number(gateway), limit=NET)  # finance raises the limit
    assert await replayer(gateway.app.state.process).replay(run_id) == "succeeded"
    order = (await gateway.client.get(f"/v1/orders/{order_id}")).json()
    assert order["status"] == "open"  # its service starts in ten days
    assert all(line["subscription_id"] is None for line in order["lines"])
    assert erp.sales_order(order_id) == (2, NET)
    assert await order_events(gateway, order_id) == ["held", "created"]


async def test_an_answer_lost_halfway_is_queued_and_the_replay_completes_one_order(
    make_gateway: GatewayFactory, erp_kind: str
) -> None:
    lost: dict[str, LostAnswerTransport] = {}

    def wrap(name: str, inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        lost[name] = LostAnswerTransport(inner)
        return lost[name]

    erp = await on_erp(make_gateway, erp_kind, wrap=wrap)
    # BC: the order's header is created and its first line's answer lost; NetSuite: the
    # order is created whole and the answer lost.
    segment = "/salesOrderLines" if erp_kind == "business_central" else "/salesOrder"
    lost[erp.backend].lose = lambda r: r.method == "POST" and r.url.path.endswith(segment)
    response = await place(erp.gateway, "quote-5", quote("Q-5"))
    assert response.status_code == 202, response.text
    queued = response.json()
    order_id, run_id = queued["order"]["id"], queued["run"]["run_id"]
    assert queued["order"]["status"] == "pending"
    assert lost[erp.backend].lost == 1

    assert await replayer(erp.gateway.app.state.process).replay(run_id) == "succeeded"
    assert erp.sales_order(order_id) == (2, NET)
    order = (await erp.gateway.client.get(f"/v1/orders/{order_id}")).json()
    assert order["status"] == "in_service"
    async with erp.gateway.sessionmaker() as session:
        run = await session.get_one(WorkflowRunRow, run_id)
    assert (run.status, run.attempts) == (RunStatus.SUCCEEDED, 2)


async def test_the_worker_keeps_the_status_in_sync_and_hands_over_when_the_service_starts(
    make_gateway: GatewayFactory, erp_kind: str
) -> None:
    erp = await on_erp(make_gateway, erp_kind, order_sync_seconds=0.001)
    gateway = erp.gateway
    start = TODAY + timedelta(days=3)
    first = (await place(gateway, "quote-6", quote("Q-6", start=start))).json()["order"]
    second = (await place(gateway, "quote-7", quote("Q-7", start=start))).json()["order"]
    assert (first["status"], second["status"]) == ("open", "open")

    erp.move_sales_order(first["id"], "released")
    erp.move_sales_order(second["id"], "canceled")
    report = await OrderStatusSync(on(gateway, TODAY)).run_once()
    assert (report.read, report.changed, report.handed_over) == (2, 2, 0)
    first = (await gateway.client.get(f"/v1/orders/{first['id']}")).json()
    second = (await gateway.client.get(f"/v1/orders/{second['id']}")).json()
    assert (first["status"], second["status"]) == ("released", "canceled")

    report = await OrderStatusSync(on(gateway, start)).run_once()
    assert (report.read, report.handed_over) == (1, 1)
    first = (await gateway.client.get(f"/v1/orders/{first['id']}")).json()
    assert first["status"] == "in_service"
    await run_queue(gateway)
    async with gateway.sessionmaker() as session:
        statuses = set(
            await session.scalars(
                select(SubscriptionRow.status).where(
                    SubscriptionRow.id.in_([line["subscription_id"] for line in first["lines"]])
                )
            )
        )
    assert statuses == {"active"}
    assert await order_events(gateway, first["id"]) == [
        "created",
        "status_changed",
        "status_changed",
    ]


async def test_a_product_without_an_erp_item_is_refused(gateway: Gateway) -> None:
    async with gateway.sessionmaker.begin() as session:
        price = await session.get_one(PriceRow, ENTERPRISE_USD)
        product = await session.get_one(ProductRow, price.product_id)
        product.erp_ref = None  # reference data that names no ERP item yet
    response = await place(gateway, "quote-8", quote("Q-8"))
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"] == f"{PROBLEM_BASE_URI}product-not-mapped"
    assert problem["pointer"] == "#/lines/1/price_id"
    async with gateway.sessionmaker() as session:
        assert await session.scalar(select(SalesOrderRow.id)) is None


async def test_reconciliation_finds_an_order_invoiced_or_repriced_for_another_amount(
    make_gateway: GatewayFactory, erp_kind: str
) -> None:
    erp = await on_erp(make_gateway, erp_kind, order_sync_seconds=0.001)
    gateway = erp.gateway
    order = (await place(gateway, "quote-9", quote("Q-9"))).json()["order"]
    await run_queue(gateway)  # the subscriptions are ordered
    pro, enterprise = (line["subscription_id"] for line in order["lines"])

    async def differences() -> list[tuple[str, int | None, int | None, int | None]]:
        period = f"{TODAY:%Y-%m}"
        report = await reconcile(
            gateway.app.state.process, legal_entity_id=US_ENTITY, period=period
        )
        return [
            (d.cause, d.gateway_amount, d.erp_amount, d.billing_amount)
            for d in report.differences
            if d.document_type == "sales_order"
        ]

    assert await differences() == []  # not invoiced yet: nothing to compare
    invoices = [
        (pro, ("Ledgergate Pro, monthly", 3, 4900, "STANDARD")),
        (enterprise, ("Ledgergate Enterprise, monthly", 1, 18900, "STANDARD")),
    ]
    for subscription_id, line in invoices:
        registered = await gateway.client.post(
            "/v1/invoices",
            json={**invoice_body(lines=(line,)), "subscription_id": subscription_id},
        )
        assert registered.status_code == 201, registered.text
    invoiced = 3 * 4900 + 18900
    assert await differences() == [("order_invoiced_for_another_amount", NET, NET, invoiced)]

    erp.reprice_sales_order(order["id"], 100)  # someone edits the order in the ERP
    await OrderStatusSync(on(gateway, TODAY)).run_once()
    assert await differences() == [
        ("order_amount_differs_in_erp", NET, NET + 100, invoiced),
        ("order_invoiced_for_another_amount", NET, NET + 100, invoiced),
    ]


async def test_injected_erp_faults_queue_the_order_until_the_erp_is_back(
    erp_case: ErpCase,
) -> None:
    gateway = erp_case.gateway
    faults = f"/_sandbox/{erp_case.backend}/faults"
    assert (await gateway.anonymous.post(faults, json={"error_rate": 1.0})).status_code == 200
    response = await place(gateway, "quote-10", quote("Q-10"))
    assert response.status_code == 202, response.text
    queued = response.json()
    assert erp_case.sales_order(queued["order"]["id"]) is None

    assert (await gateway.anonymous.delete(faults)).status_code in (200, 204)
    assert await replayer(gateway.app.state.process).replay(queued["run"]["run_id"]) == "succeeded"
    assert erp_case.sales_order(queued["order"]["id"]) == (2, NET)
