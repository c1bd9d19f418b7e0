"""Payment reversal: a reversing entry in the ERP, commission claw-backs with lineage, the
invoice owing again; on SQLite and PostgreSQL, with the ERP, billing and CRM sandboxes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import select, update

from core.canonical.parties import PeriodStatus
from core.errors import PROBLEM_BASE_URI
from core.models.commission_line import CommissionLineRow
from core.models.legal_entity import AccountingPeriodRow, LegalEntityRow
from core.models.workflow_run import RunStatus, WorkflowRunRow
from process_apis.worker import replayer
from tests.conftest import Gateway, GatewayFactory
from tests.integration.test_credit_memos import posted_invoice
from tests.integration.test_settlements import (
    NORTHWIND,
    PERIOD,
    SETTLER,
    US_ENTITY,
    erp_payments,
    ledger,
    pay,
    product_invoice,
    run_settlements,
)
from tests.support.calendar import month, month_start, months_later
from tests.support.erps import ErpCase, on_erp
from tests.support.faults import SwitchableTransport, switchable_backends

REVERSER = ["payments:reverse", "invoices:read"]


async def switchable(
    make_gateway: GatewayFactory, kind: str = "business_central"
) -> tuple[ErpCase, SwitchableTransport]:
    """A gateway whose US entity books in the ERP of `kind`, and the switch of that ERP."""
    switches, wrap = switchable_backends()

    erp = await on_erp(make_gateway, kind, wrap=wrap)
    return erp, switches[erp.backend]


async def reverse(
    client: httpx.AsyncClient, payment_id: str, key: str, reason: str = "cheque bounced"
) -> httpx.Response:
    return await client.post(
        f"/v1/payments/{payment_id}/reversal",
        json={"reason": reason},
        headers={"Idempotency-Key": key},
    )


async def erp_invoice(erp: ErpCase, invoice: dict[str, Any]) -> tuple[int, str]:
    found = await erp.gateway.backends.erp.get_sales_invoice(
        erp.company_id, invoice["posting"]["erp_document_id"]
    )
    return found.remaining_amount, found.status


async def test_a_reversed_payment_is_booked_back_clawed_back_and_the_invoice_owes_again(
    make_gateway: GatewayFactory, erp_kind: str
) -> None:
    case, erp = await switchable(make_gateway, erp_kind)
    gateway = case.gateway
    invoice = await posted_invoice(gateway, product_invoice())
    paid = (await pay(gateway, invoice, invoice["total"], "p1")).json()
    reverser = await gateway.client_with(REVERSER, client_id="finance-reverser")
    url = f"/v1/payments/{paid['id']}/reversal"
    assert (await reverser.post(url, json={"reason": "bounced"})).status_code == 400
    assert (await reverse(gateway.client, paid["id"], "r0")).status_code == 403
    erp.down = True
    queued = await reverse(reverser, paid["id"], "r1")
    assert queued.status_code == 202, queued.text
    assert (queued.json()["status"], queued.json()["last_run"]["status"]) == (
        "applied",
        "pending_retry",
    )
    erp.down = False
    response = await reverse(reverser, paid["id"], "r2")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["last_run"]["id"] == queued.json()["last_run"]["id"]  # the queued run resumed
    assert body["status"] == "reversed"
    assert body["reversal_document_number"]
    assert body["reversed_at"]
    # ERP: the original payment stays, its reversing entry applies the opposite amount
    total = invoice["total"]
    assert case.payments() == {paid["id"]: total, f"{paid['id']}-R": -total}
    assert await erp_invoice(case, invoice) == (total, "posted")
    read = (await gateway.client.get(f"/v1/invoices/{invoice['id']}")).json()
    assert read["status"] == "posted"
    # claw-back: each earned line answered by a negative line naming it; originals untouched
    earned = {line["id"]: line for line in paid["commission_lines"]}
    lines = body["commission_lines"]
    assert len(lines) == 2 * len(earned)
    for line in lines:
        if line["reverses_line_id"] is None:
            assert line == {**earned[line["id"]], "reverses_line_id": None}
            continue
        original = earned[line["reverses_line_id"]]
        assert (line["commission_amount"], line["base_amount"]) == (
            -original["commission_amount"],
            -original["base_amount"],
        )
        assert (line["invoice_line_id"], line["partner_id"], line["rate_card_version"]) == (
            original["invoice_line_id"],
            original["partner_id"],
            original["rate_card_version"],
        )
        assert line["settlement_id"] is None
    run = (await gateway.client.get(body["run_url"])).json()
    assert [s["name"] for s in run["steps"]] == [
        "ensure_payment_journal",
        "reverse_payment",
        "read_erp_invoice",
    ]
    assert run["result"]["reverses"] == paid["erp_document_number"]
    # answered as it is, nothing booked twice; the invoice takes a payment again
    again = await reverse(reverser, paid["id"], "r3", reason="twice")
    assert (again.status_code, again.json()["status"]) == (200, "reversed")
    assert len(case.payments()) == 2
    assert len(again.json()["commission_lines"]) == len(lines)
    repaid = await pay(gateway, invoice, invoice["total"], "p2")
    assert repaid.status_code == 201, repaid.text
    assert await erp_invoice(case, invoice) == (0, "paid")
    unknown = await reverse(reverser, "pay_00000000000000000000000000", "r4")
    assert unknown.status_code == 404
    await reverser.aclose()


async def test_claw_backs_settle_in_their_months_statement_or_the_next_runs_adjustment(
    gateway: Gateway,
) -> None:
    settler = await gateway.client_with([*SETTLER, *REVERSER])
    settled_first = await posted_invoice(gateway, product_invoice())
    first = (await pay(gateway, settled_first, settled_first["total"], "p1")).json()
    bounced_same_month = await posted_invoice(gateway, product_invoice(seats=1))
    second = (await pay(gateway, bounced_same_month, bounced_same_month["total"], "p2")).json()
    assert (await reverse(settler, second["id"], "r1")).status_code == 201
    months_later(gateway.app)
    [statement] = (await run_settlements(settler, "s1")).json()["settlements"]
    earned = sum(line["commission_amount"] for line in first["commission_lines"])
    clawed_same_month = sum(line["commission_amount"] for line in second["commission_lines"])
    # the same month's claw-back nets the statement, shown apart on its journal
    assert (statement["total_commission"], statement["clawback_total"]) == (
        earned,
        -clawed_same_month,
    )
    assert statement["line_count"] == 3 * len(second["commission_lines"])
    document = statement["journal_document_number"]
    gross = Decimal(earned + clawed_same_month) / 100
    assert ledger(gateway, document) == [
        ("60100", gross, 0),
        ("60100", 0, Decimal(clawed_same_month) / 100),
        ("21500", 0, Decimal(earned) / 100),
    ]
    portal = await gateway.client_with(
        ["partner:read"], client_id="portal-reversal", partner_id=NORTHWIND
    )
    shown = (await portal.get(f"/partner/v1/statements/{PERIOD}")).json()
    assert [s["clawback_total"] for s in shown["settlements"]] == [-clawed_same_month]
    assert shown["totals"][0]["total_commission"] == earned
    await portal.aclose()
    # a claw-back of a settled month: the next run's prior-period adjustment
    assert (await reverse(settler, first["id"], "r2")).status_code == 201
    months_later(gateway.app, 2)
    [adjusted] = (await run_settlements(settler, "s2", month(1))).json()["settlements"]
    assert (adjusted["total_commission"], adjusted["adjustment_total"]) == (-earned, -earned)
    assert adjusted["status"] == "posted"
    lineage = (await settler.get(f"/v1/settlements/{adjusted['id']}/lineage")).json()["items"]
    assert {
        (entry["commission"]["reverses_line_id"], entry["commission"]["amount"])
        for entry in lineage
    } == {(line["id"], -line["commission_amount"]) for line in first["commission_lines"]}
    assert all(entry["statement"]["prior_period_adjustment"] for entry in lineage)
    assert ledger(gateway, adjusted["journal_document_number"]) == [
        ("60100", 0, Decimal(earned) / 100),
        ("21500", Decimal(earned) / 100, 0),
    ]
    await settler.aclose()


async def test_a_payment_not_applied_in_the_erp_is_not_reversed(
    make_gateway: GatewayFactory,
) -> None:
    case, erp = await switchable(make_gateway)
    gateway = case.gateway
    invoice = await posted_invoice(gateway, product_invoice())
    erp.down = True
    queued = (await pay(gateway, invoice, invoice["total"], "p1")).json()
    erp.down = False
    reverser = await gateway.client_with(REVERSER)
    refused = await reverse(reverser, queued["id"], "r1")
    assert refused.status_code == 409, refused.text
    assert refused.json()["type"] == PROBLEM_BASE_URI + "payment-not-applied"
    assert erp_payments(gateway) == {}
    await reverser.aclose()


async def _close_this_month(gateway: Gateway, policy: str) -> None:
    async with gateway.sessionmaker.begin() as session:
        await session.execute(
            update(AccountingPeriodRow)
            .where(
                AccountingPeriodRow.legal_entity_id == US_ENTITY,
                AccountingPeriodRow.starts_on == date.today().replace(day=1),
            )
            .values(status=PeriodStatus.CLOSED)
        )
        await session.execute(
            update(LegalEntityRow)
            .where(LegalEntityRow.id == US_ENTITY)
            .values(closed_period_policy=policy)
        )


async def test_a_reversal_in_a_closed_period_follows_the_legal_entitys_policy(
    gateway: Gateway,
) -> None:
    reverser = await gateway.client_with(REVERSER)
    invoice = await posted_invoice(gateway, product_invoice())
    paid = (await pay(gateway, invoice, invoice["total"], "p1")).json()
    await _close_this_month(gateway, "reject")
    refused = await reverse(reverser, paid["id"], "r1")
    assert refused.status_code == 422, refused.text
    assert refused.json()["type"] == PROBLEM_BASE_URI + "closed-period"
    assert refused.json()["payment_id"] == paid["id"]
    assert len(erp_payments(gateway)) == 1
    async with gateway.sessionmaker() as session:
        run = await session.scalar(
            select(WorkflowRunRow).where(WorkflowRunRow.workflow == "payment_reversal")
        )
    assert run is not None
    assert run.status == RunStatus.FAILED
    await _close_this_month(gateway, "roll_forward")
    rolled = await reverse(reverser, paid["id"], "r2")
    assert rolled.status_code == 201, rolled.text
    next_open = (await gateway.client.get(rolled.json()["run_url"])).json()["result"]
    assert next_open["posting_date"] == month_start(1).isoformat()
    async with gateway.sessionmaker() as session:
        clawed = await session.scalar(
            select(CommissionLineRow.id).where(CommissionLineRow.reverses_line_id.is_not(None))
        )
    assert clawed is not None
    await reverser.aclose()


async def test_an_operator_replays_a_queued_reversal(make_gateway: GatewayFactory) -> None:
    case, erp = await switchable(make_gateway)
    gateway = case.gateway
    invoice = await posted_invoice(gateway, product_invoice())
    paid = (await pay(gateway, invoice, invoice["total"], "p1")).json()
    reverser = await gateway.client_with(REVERSER)
    erp.down = True
    queued = (await reverse(reverser, paid["id"], "r1")).json()
    erp.down = False
    assert await replayer(gateway.app.state.process).replay(queued["last_run"]["id"]) == (
        "succeeded"
    )
    read = (await gateway.client.get(f"/v1/payments/{paid['id']}")).json()
    assert read["status"] == "reversed"
    await reverser.aclose()


async def test_a_reversed_payment_and_its_reversing_entry_reconcile(erp_case: ErpCase) -> None:
    gateway = erp_case.gateway
    reverser = await gateway.client_with([*REVERSER, "ops:read"])
    invoice = await posted_invoice(gateway, product_invoice())
    paid = (await pay(gateway, invoice, invoice["total"], "p1")).json()
    assert (await reverse(reverser, paid["id"], "r1")).status_code == 201
    response = await reverser.get(
        "/ops/v1/reconciliation",
        params={"period": date.today().strftime("%Y-%m"), "legal_entity": US_ENTITY},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["differences"] == []
    [payments] = [t for t in body["totals"] if t["document_type"] == "payment"]
    assert (payments["gateway_count"], payments["gateway_total"]) == (2, 0)
    assert (payments["erp_count"], payments["erp_total"]) == (2, 0)
    await reverser.aclose()
