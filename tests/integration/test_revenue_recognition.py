"""Revenue recognition across the tiers and the ERP sandboxes, on SQLite and PostgreSQL:
twelve months of invoices posted through the invoice API (an annual plan, a one-off
charge earned at once, more seats, corrections), recognized month by month, its waterfall
checked to the cent against a computation of its own, and the proof against the ERP;
the reconciliation, reversals, closed periods and queued runs. The subscriptions' twelve
months through billing and the workflows are `test_revenue_twelve_months.py`."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from app.seed import demo_id
from core.models.workflow_run import RunStatus, WorkflowRunRow
from process_apis.worker import replayer
from system_apis.erp.schemas import ErpJournalCreate, ErpJournalEntryCreate, ErpJournalLine
from tests.conftest import Gateway, GatewayFactory
from tests.integration.test_credit_memos import posted_invoice
from tests.support.calendar import month_start, months_later
from tests.support.erps import ErpCase, on_erp
from tests.support.faults import switchable_backends
from tests.support.invoices import ACME, US_COMPANY, invoice_body
from tests.support.revenue import (
    OPS,
    US_ENTITY,
    Book,
    assert_waterfall,
    deferred_revenue_check,
    month_key,
    recognition_run,
    recognize,
    served_line,
    split_by_days,
)

PRO, ENTERPRISE = demo_id("product", 1), demo_id("product", 2)
# Credits in these tests are finance's own corrections: no approval step in between.
NO_APPROVAL = {"approval_thresholds": {"USD": 100_000_000}}


@pytest.fixture
async def erp_case(make_gateway: GatewayFactory, erp_kind: str) -> ErpCase:
    return await on_erp(make_gateway, erp_kind, credit_memos=NO_APPROVAL)


async def correct(gateway: Gateway, invoice: dict[str, Any], line: int, **credit: int) -> None:
    response = await gateway.client.post(
        f"/v1/invoices/{invoice['id']}/corrections",
        json={
            "reason": "Plan changed",
            "lines": [{"invoice_line_id": invoice["lines"][line]["id"], **credit}],
        },
        headers={"Idempotency-Key": f"correct-{invoice['id']}-{line}-{sum(credit.values())}"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "posted", response.text


async def test_twelve_months_of_invoices_with_a_one_off_charge_are_recognized_to_the_cent(
    erp_case: ErpCase,
) -> None:
    """Invoices posted through the invoice API: an annual plan and a one-off charge earned at
    once by its product's rule, more seats on their own invoice, corrections by quantity and
    by amount. (The subscriptions' own twelve months, through billing, the amendments, a
    support credit and the refund workflow, are `test_revenue_twelve_months.py`.)"""
    gateway = erp_case.gateway
    ops = await gateway.client_with(OPS)
    book = Book()
    m0 = month_start(0)
    term_end = month_start(12) - timedelta(days=1)
    rule = await ops.put(f"/ops/v1/revenue/rules/{ENTERPRISE}", json={"method": "point_in_time"})
    assert rule.status_code == 200, rule.text

    # Month 0: an annual plan billed up front, an add-on earned at once (the product's rule)
    body = invoice_body(
        ACME,
        invoice_date=date.today(),
        lines=(
            ("Pro, annual", 3, 58800, "STANDARD"),
            ("Enterprise onboarding", 1, 19900, "STANDARD"),
        ),
    )
    served_line(body, "Pro, annual", m0, term_end, product=PRO)
    served_line(body, "Enterprise onboarding", date.today(), date.today(), product=ENTERPRISE)
    annual = await posted_invoice(gateway, body)
    book.bill("annual", 3 * 58800, m0, term_end, date.today())
    book.bill("onboarding", 19900, date.today(), date.today(), date.today(), point=True)
    schedule = (await ops.get(f"/v1/invoices/{annual['id']}/revenue-schedule")).json()
    assert [s["method"] for s in schedule["schedules"]] == ["ratable_daily", "point_in_time"]
    assert sum(m["amount"] for m in schedule["schedules"][0]["months"]) == 3 * 58800

    upgrade: dict[str, Any] = {}
    for ahead in range(1, 12):
        today = months_later(gateway.app, ahead)
        if ahead == 3:  # a mid-cycle upgrade: two more seats from the 15th, prorated
            upgrade_start = today + timedelta(days=14)
            body = invoice_body(
                ACME, invoice_date=today, lines=(("Upgrade, 2 seats", 2, 40000, "STANDARD"),)
            )
            served_line(body, "Upgrade, 2 seats", upgrade_start, term_end, product=PRO)
            upgrade = await posted_invoice(gateway, body)
            book.bill("upgrade", 80000, upgrade_start, term_end, today)
        if ahead == 5:  # a downgrade: one upgraded seat given back, credited
            await correct(gateway, upgrade, 0, quantity=1)
            book.credit("upgrade", 40000, today)
        if ahead == 7:  # a service credit on the annual plan
            await correct(gateway, annual, 0, amount=12345)
            book.credit("annual", 12345, today)
        result = await recognize(ops, month_key(month_start(ahead - 1)), f"rev-{ahead}")
        [run] = result["runs"]
        assert run["status"] == "posted", run
        # invoices and corrections booked their billings to deferred revenue themselves:
        # the journal moves nothing into it
        assert run["deferred_total"] == 0, run
        # the ERP journal is balanced and moves what the schedules earned
        ledger = erp_case.ledger(run["journal_document_number"])
        assert sum(debit for _, debit, _ in ledger) == sum(credit for _, _, credit in ledger)

    months = [month_key(month_start(ahead)) for ahead in range(12)]
    expected = book.waterfall(months)
    await assert_waterfall(ops, months, expected)

    # proof at month 10's end: billed = recognized + deferred, and the ERP agrees
    proof = (
        await ops.get(
            "/ops/v1/revenue/proof", params={"legal_entity": US_ENTITY, "period": months[10]}
        )
    ).json()
    [usd] = proof["currencies"]
    billed = sum(book.billed[m] for m in months[:11])
    recognized = sum(row["recognized"] for row in expected[:11])
    assert (usd["billed"], usd["recognized"], usd["deferred"]) == (
        billed,
        recognized,
        billed - recognized,
    )
    assert usd["unbalanced_schedules"] == 0
    assert usd["journaled_deferred"] == usd["erp_deferred"] == billed - recognized
    assert usd["matched"] is True
    drill = (await ops.get(proof["schedules_url"])).json()
    assert sum(item["deferred"] for item in drill["items"]) == usd["deferred"]
    assert all(item["balanced"] for item in drill["items"])
    # the reconciliation of month 10 checks the same against the ERP: no difference
    deferred = await deferred_revenue_check(ops, months[10])
    assert deferred == ([billed - recognized, billed - recognized], [])
    await ops.aclose()


async def test_reconciliation_checks_the_deferred_revenue_against_the_erp(
    gateway: Gateway,
) -> None:
    ops = await gateway.client_with(OPS)
    m0, m1 = month_start(0), month_start(1)
    body = invoice_body(ACME, lines=(("Pro, two months", 1, 61000, "STANDARD"),))
    served_line(body, "Pro, two months", m0, month_start(2) - timedelta(days=1), product=PRO)
    await posted_invoice(gateway, body)
    this_month = month_key(m0)
    months_later(gateway.app, 1)
    earned = split_by_days(61000, m0, month_start(2) - timedelta(days=1))[this_month]

    # the month is not recognized yet: the ERP holds the invoice, posted to deferred
    # revenue, and none of what the month earned has left it
    totals, [late] = await deferred_revenue_check(ops, this_month)
    assert totals == [61000 - earned, 61000]
    assert (late["cause"], late["kind"]) == ("deferred_revenue_not_journaled", "amount_mismatch")
    assert (late["gateway_amount"], late["erp_amount"]) == (61000 - earned, 61000)
    drill = (await ops.get(late["key"])).json()  # the drill-down to each schedule
    assert [item["deferred"] for item in drill["items"]] == [61000 - earned]

    recognized = await recognition_run(ops, this_month, "recognize")
    assert recognized.status_code == 201, recognized.text
    assert await deferred_revenue_check(ops, this_month) == ([61000 - earned] * 2, [])

    # an entry booked on the deferred revenue account outside the recognition journals
    erp = gateway.backends.erp
    journal = await erp.ensure_journal(
        US_COMPANY, ErpJournalCreate(code="MANUAL", display_name="Manual entries")
    )
    manual = ErpJournalEntryCreate(
        document_number="MAN-1",
        external_document_number="MAN-1",
        posting_date=m1 - timedelta(days=1),
        currency="USD",
        lines=(
            ErpJournalLine(account_number="24000", amount=500, description="Manual"),
            ErpJournalLine(account_number="40100", amount=-500, description="Manual"),
        ),
    )
    await erp.add_journal_entry(US_COMPANY, journal.id, manual)
    await erp.post_journal_entry(US_COMPANY, journal.id, "MAN-1", "USD")
    totals, [stray] = await deferred_revenue_check(ops, this_month)
    assert totals == [61000 - earned, 61000 - earned - 500]
    assert stray["cause"] == "deferred_revenue_balance_differs"
    await ops.aclose()


async def test_a_month_is_recognized_once_and_undone_only_by_a_reversing_entry(
    erp_case: ErpCase,
) -> None:
    gateway = erp_case.gateway
    ops = await gateway.client_with(OPS)
    m0, m1 = month_start(0), month_start(1)
    body = invoice_body(ACME, lines=(("Pro, two months", 1, 61000, "STANDARD"),))
    served_line(body, "Pro, two months", m0, month_start(2) - timedelta(days=1), product=PRO)
    await posted_invoice(gateway, body)
    this_month = month_key(m0)

    early = await recognition_run(ops, this_month, "early")
    assert early.status_code == 422, early.text
    assert early.json()["type"].endswith("/revenue-period-open")

    months_later(gateway.app, 1)
    first = await recognition_run(ops, this_month, "first")
    assert first.status_code == 201, first.text
    [run] = first.json()["runs"]
    earned = split_by_days(61000, m0, month_start(2) - timedelta(days=1))[this_month]
    assert (run["status"], run["attempt"]) == ("posted", 1)
    # the invoice was posted to deferred revenue: the journal only moves what was earned
    assert (run["deferred_total"], run["recognized_total"], run["entry_count"]) == (
        0,
        earned,
        2,
    )
    assert run["posting_date"] == (m1 - timedelta(days=1)).isoformat()
    ledger = erp_case.ledger(run["journal_document_number"])
    assert sorted(ledger) == [("24000", earned, 0), ("40100", 0, earned)]

    again = await recognition_run(ops, this_month, "again")
    assert again.status_code == 200, again.text
    assert [r["id"] for r in again.json()["runs"]] == [run["id"]]
    assert again.json()["drawn_up"] == 0

    reversal = await ops.post(
        f"/ops/v1/revenue/recognition-runs/{run['id']}/reversals",
        json={"reason": "Wrong deferral account"},
        headers={"Idempotency-Key": "undo"},
    )
    assert reversal.status_code == 201, reversal.text
    reversed_run = reversal.json()
    assert reversed_run["status"] == "reversed"
    undone = erp_case.ledger(reversed_run["reversal_document_number"])
    assert sorted((a, c, d) for a, d, c in undone) == sorted(ledger)  # every line turned
    assert erp_case.ledger(run["journal_document_number"]) == ledger  # the original stays
    twice = await ops.post(
        f"/ops/v1/revenue/recognition-runs/{run['id']}/reversals",
        json={"reason": "Wrong deferral account"},
        headers={"Idempotency-Key": "undo-again"},
    )
    assert twice.status_code == 200, twice.text

    rerun = await recognition_run(ops, this_month, "rerun")
    assert rerun.status_code == 201, rerun.text
    [second] = rerun.json()["runs"]
    assert (second["attempt"], second["status"]) == (2, "posted")
    assert (second["deferred_total"], second["recognized_total"]) == (0, earned)
    # the reversal is dated in the next month: at this month's end the ledger holds both
    # runs' entries, at the next month's end the reversal too
    for period, deferred_then in (
        (this_month, 61000 - 2 * earned),
        (month_key(m1), 61000 - earned),
    ):
        proof = await ops.get(
            "/ops/v1/revenue/proof", params={"legal_entity": US_ENTITY, "period": period}
        )
        [usd] = proof.json()["currencies"]
        assert (usd["erp_deferred"], usd["matched"]) == (deferred_then, True), usd
    await ops.aclose()


async def test_a_month_in_a_closed_period_waits_under_the_reject_policy(gateway: Gateway) -> None:
    ops = await gateway.client_with(OPS)
    last_month = month_start(-1)
    body = invoice_body(ACME, lines=(("Pro, quarter", 1, 30000, "STANDARD"),))
    served_line(body, "Pro, quarter", last_month, month_start(2) - timedelta(days=1))
    invoice = await posted_invoice(gateway, body)
    schedule = (await ops.get(f"/v1/invoices/{invoice['id']}/revenue-schedule")).json()
    [line] = schedule["schedules"]
    assert [m["month"] for m in line["months"]] == [month_key(month_start(k)) for k in (-1, 0, 1)]
    assert line["deferred"] == 30000

    response = await recognition_run(ops, month_key(last_month), "closed")
    assert response.status_code == 201, response.text
    [run] = response.json()["runs"]
    assert run["status"] == "draft"
    assert run["last_run"]["status"] == "failed"
    assert run["last_run"]["error_type"].endswith("/closed-period")
    await ops.aclose()


async def test_revenue_requests_are_refused_with_problems(gateway: Gateway) -> None:
    ops = await gateway.client_with(OPS)
    unknown = await ops.get("/ops/v1/revenue/recognition-runs/rvr_01jd0000000000000000000000")
    assert unknown.status_code == 404
    bad_month = await ops.get(
        "/ops/v1/revenue/waterfall",
        params={"legal_entity": US_ENTITY, "from": "2026-13", "to": "2026-12"},
    )
    assert bad_month.status_code == 422
    half = invoice_body(ACME)
    half["lines"][0]["service_period_start"] = "2026-01-01"
    refused = await gateway.client.post("/v1/invoices", json=half)
    assert refused.status_code == 422, refused.text
    rule = await ops.put(
        "/ops/v1/revenue/rules/prod_01jd0000000000000000000000", json={"method": "point_in_time"}
    )
    assert rule.status_code == 404
    await ops.aclose()


async def test_a_queued_recognition_is_discarded_and_a_queued_reversal_resumed_with_its_reason(
    make_gateway: GatewayFactory,
) -> None:
    switches, wrap = switchable_backends()

    gateway = await make_gateway(wrap=wrap)
    ops = await gateway.client_with(OPS)
    m0 = month_start(0)
    body = invoice_body(ACME, lines=(("Pro, two months", 1, 61000, "STANDARD"),))
    served_line(body, "Pro, two months", m0, month_start(2) - timedelta(days=1), product=PRO)
    await posted_invoice(gateway, body)
    this_month = month_key(m0)
    months_later(gateway.app, 1)
    replays = replayer(gateway.app.state.process)

    # the ERP is down: the journal is queued; discarded, the run is void, its entries free
    switches["erp"].down = True
    queued = await recognition_run(ops, this_month, "down")
    assert queued.status_code == 202, queued.text
    [draft] = queued.json()["runs"]
    assert (draft["status"], draft["last_run"]["status"]) == ("draft", "pending_retry")
    switches["erp"].down = False
    await replays.close(
        draft["last_run"]["id"], status=RunStatus.DISCARDED, note="redo", operator="ops"
    )
    voided = (await ops.get(f"/ops/v1/revenue/recognition-runs/{draft['id']}")).json()
    assert voided["status"] == "void"
    again = await recognition_run(ops, this_month, "up")
    assert again.status_code == 201, again.text
    [run] = again.json()["runs"]
    assert (run["attempt"], run["status"], run["deferred_total"]) == (2, "posted", 0)

    # a reversal queued while the ERP is down is finished by the replayer, with its reason
    switches["erp"].down = True
    reversal = await ops.post(
        f"/ops/v1/revenue/recognition-runs/{run['id']}/reversals",
        json={"reason": "Wrong deferral account"},
        headers={"Idempotency-Key": "undo-later"},
    )
    assert reversal.status_code == 202, reversal.text
    assert reversal.headers["location"] == reversal.json()["run_url"]
    switches["erp"].down = False
    async with gateway.sessionmaker() as session:
        pending = await session.get_one(WorkflowRunRow, reversal.json()["last_run"]["id"])
        assert pending.next_attempt_at is not None
        pending.next_attempt_at -= timedelta(hours=2)
        await session.commit()
    assert (await replays.run_once()).outcomes == {"succeeded": 1}
    undone = (await ops.get(f"/ops/v1/revenue/recognition-runs/{run['id']}")).json()
    assert (undone["status"], undone["reversal_reason"]) == ("reversed", "Wrong deferral account")
    await ops.aclose()


def deferred_account_balance(erp_case: ErpCase) -> int:
    """The ERP's balance of the deferred revenue account (credit positive), read from the
    sandbox's own ledger."""
    return sum(credit - debit for _, debit, credit in erp_case.account_entries("24000"))


async def test_an_invoice_posts_its_served_lines_to_deferred_revenue_and_a_credit_agrees(
    erp_case: ErpCase,
) -> None:
    gateway = erp_case.gateway
    ops = await gateway.client_with(OPS)
    rule = await ops.put(f"/ops/v1/revenue/rules/{ENTERPRISE}", json={"method": "point_in_time"})
    assert rule.status_code == 200, rule.text
    m0, m2 = month_start(0), month_start(2)
    body = invoice_body(
        ACME,
        invoice_date=date.today(),
        lines=(
            ("Pro, two months", 1, 61000, "STANDARD"),
            ("Enterprise onboarding", 1, 19900, "STANDARD"),
            ("Setup", 1, 5000, "STANDARD"),
        ),
    )
    served_line(body, "Pro, two months", m0, m2 - timedelta(days=1), product=PRO)
    served_line(body, "Enterprise onboarding", date.today(), date.today(), product=ENTERPRISE)
    invoice = await posted_invoice(gateway, body)

    # the lines with a service period are in deferred revenue, the setup line is not
    number = invoice["posting"]["erp_document_number"]
    assert sorted(erp_case.account_entries("24000")) == [(number, 0, 19900), (number, 0, 61000)]

    # the month's journal moves only what the month earned out of deferred revenue
    this_month = month_key(m0)
    months_later(gateway.app, 1)
    earned = split_by_days(61000, m0, m2 - timedelta(days=1))[this_month]
    [run] = (await recognize(ops, this_month, "first"))["runs"]
    assert (run["status"], run["deferred_total"]) == ("posted", 0)
    assert run["recognized_total"] == earned + 19900
    journal = erp_case.ledger(run["journal_document_number"])
    assert sorted(journal) == [("24000", earned + 19900, 0), ("40100", 0, earned + 19900)]
    assert deferred_account_balance(erp_case) == 61000 - earned
    proof = await ops.get(
        "/ops/v1/revenue/proof", params={"legal_entity": US_ENTITY, "period": this_month}
    )
    [usd] = proof.json()["currencies"]
    assert (usd["billed"], usd["recognized"], usd["deferred"]) == (
        80900,
        earned + 19900,
        61000 - earned,
    )
    assert usd["journaled_deferred"] == usd["erp_deferred"] == 61000 - earned
    assert await deferred_revenue_check(ops, this_month) == ([61000 - earned] * 2, [])

    # a credit of more than is left to earn of the half-recognized line: the credit memo
    # takes all of it out of deferred revenue, the month's journal takes back from revenue
    # what was recognized of it already
    before = erp_case.account_entries("24000")
    await correct(gateway, invoice, 0, amount=45000)
    [(_, debit, credit)] = erp_case.account_entries("24000")[len(before) :]
    assert (debit, credit) == (45000, 0)
    next_month_key = month_key(month_start(1))
    months_later(gateway.app, 2)
    [second] = (await recognize(ops, next_month_key, "second"))["runs"]
    taken_back = 45000 - (61000 - earned)
    assert (second["deferred_total"], second["recognized_total"]) == (0, -taken_back)
    journal = erp_case.ledger(second["journal_document_number"])
    assert sorted(journal) == [("24000", 0, taken_back), ("40100", taken_back, 0)]
    assert deferred_account_balance(erp_case) == 0
    proof = await ops.get(
        "/ops/v1/revenue/proof", params={"legal_entity": US_ENTITY, "period": next_month_key}
    )
    [usd] = proof.json()["currencies"]
    assert (usd["billed"], usd["recognized"], usd["deferred"]) == (35900, 35900, 0)
    assert (usd["journaled_deferred"], usd["erp_deferred"], usd["matched"]) == (0, 0, True)
    assert await deferred_revenue_check(ops, next_month_key) == ([0, 0], [])
    await ops.aclose()
