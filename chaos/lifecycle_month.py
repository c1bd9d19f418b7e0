"""Lifecycle month: a month of account lifecycle traffic while the backends fail 20 %.

One process: the gateway app, its in-process sandboxes (billing, ERP, CRM, support desk)
and the worker's steps, on a throwaway database, with a manual clock. A few dozen
customers order a subscription; then, day by day, billing does what billing does (as
Stripe would, through its own API and signed webhooks): renewals are declined and some
are paid later (within the grace, or after the account was suspended), charges are
partly refunded, disputed and the disputes won or lost; support credits paid invoices
(refunded or on the customer's balance) and the CRM's accepted quotes become ERP sales
orders. Every backend call of the gateway meets 20 % injected faults (5xx, 429, dropped
connections, garbage answers); each day the worker drains the billing inbox and suspends
the accounts whose grace has passed, and an operator replays the exception queue
(`/ops/v1/exceptions`) until it is empty.

It passes when, the month over, the ops reconciliation of each month it touched shows no
difference; every account has the same status (active or suspended) in billing (a renewal
unpaid for the grace period), the support desk, the CRM and the ERP (customer blocked),
and the one the plan expects; and the ERP holds each document once: no external number
twice, no billed invoice, refund, credit memo, lost dispute or sales order missing.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.backends import Backends, build_backends
from app.governance.auth.clients import create_client
from app.governance.auth.tokens import issue_token
from app.main import create_app
from app.seed import default_erp_number, demo_id, seed_demo_estate
from chaos.estate import create_database, drop_database
from chaos.report import Outcome
from core.db import create_engine, create_sessionmaker
from core.ids import new_id
from core.migrate import upgrade
from core.models.credit_memo import CreditMemoRow
from core.models.customer import CustomerRow, CustomerStatus
from core.models.dispute import DisputeRow
from core.models.invoice import InvoiceRow
from core.models.refund import RefundRow
from core.models.workflow_run import RunStatus, WorkflowRunRow
from core.scopes import DEFAULT_CLIENT_SCOPES
from core.settings import Settings
from process_apis.billing_inbox import BillingInbox
from process_apis.dunning.schedule import DunningSchedule
from sandboxes import stripe
from sandboxes.business_central import BusinessCentralState
from sandboxes.crm.state import DEMO_PRODUCT_TIERS, Registration
from sandboxes.demo_estate import DEMO_COMPANIES
from sandboxes.faults import FaultConfig
from sandboxes.stripe.charges import open_dispute
from sandboxes.stripe.state import ManualClock, StripeState, unix_now
from system_apis.support.schemas import SupportCaseCreate

CHECK = "lifecycle month"
FAULTS = FaultConfig(
    seed=18,
    error_rate=0.10,
    throttle_rate=0.04,
    retry_after_seconds=0,
    drop_rate=0.03,
    malformed_rate=0.03,
)
"""20 % of every backend's requests fail; a dropped or garbled answer's write happened."""
BACKEND = {
    "retry_attempts": 3,
    "retry_initial_backoff_seconds": 0.001,
    "retry_max_backoff_seconds": 0.005,
    "retry_budget_seconds": 2.0,
    "read_timeout_seconds": 5.0,
    "circuit_failure_threshold": 1000,  # stormy, not down: the circuit stays closed
}
US_ENTITY = demo_id("legal_entity", 1)
US_COMPANY = DEMO_COMPANIES[0].id
PARTNER = demo_id("partner", 1)
PRO_USD, ENTERPRISE_USD = demo_id("price", 11), demo_id("price", 21)
OPS = ["ops:read", "ops:write"]
STRIPE_KEY = "sk_test_sandbox"
DECLINED, PAYS = "pm_card_chargeCustomerFail", "pm_card_visa"
OPERATOR_ROUNDS = 40
RETRIED = {429, 500, 502, 503, 504}

ROLES = (
    "pays",  # renews and pays; support credits a paid invoice onto its balance
    "recovers",  # a declined renewal, paid within the grace: never suspended
    "reactivated",  # declined, suspended after the grace, then pays: active again
    "suspended",  # declined and never paid: suspended at the month's end
    "refunded",  # part of its charge refunded
    "dispute-won",
    "dispute-lost",
    "credit-refunded",  # support credits a paid invoice, refunded; and a quote is ordered
    "credited-unpaid",  # a declined renewal, credited by support before it is paid
)


@dataclass
class Customer:
    id: str
    role: str
    billing_id: str = ""
    charge: str = ""
    invoice: str = ""  # the gateway's invoice of the first (paid) billing invoice
    amount: int = 0
    dispute: str = ""

    @property
    def expected(self) -> str:
        return "suspended" if self.role == "suspended" else "active"


@dataclass
class Month:
    """The gateway, its sandboxes and clients, and what the month did."""

    app: FastAPI
    backends: Backends
    sessionmaker: async_sessionmaker[AsyncSession]
    client: httpx.AsyncClient  # a SaaS platform
    ops: httpx.AsyncClient  # finance operations
    billing: httpx.AsyncClient  # billing's own API (no injected faults: billing is the driver)
    start: date
    grace: int
    today: date = date.min
    plan: dict[int, list[Callable[[], Awaitable[None]]]] = field(default_factory=dict)
    replays: int = 0
    refused: list[str] = field(default_factory=list)

    @property
    def stripe(self) -> StripeState:
        assert self.backends.billing_sandbox is not None
        return self.backends.billing_sandbox

    @property
    def erp(self) -> BusinessCentralState:
        assert isinstance(self.backends.erp_sandbox, BusinessCentralState)
        return self.backends.erp_sandbox

    def on(self, day: int) -> None:
        """Day `day` of the month for the gateway and billing alike."""
        self.today = self.start + timedelta(days=day)
        self.app.state.process = replace(self.app.state.process, today=lambda: self.today)
        clock = self.stripe.clock
        assert isinstance(clock, ManualClock)
        clock.now = (
            int(datetime.combine(self.today, datetime.min.time(), UTC).timestamp()) + 9 * 3600
        )

    async def send(self, path: str, key: str, body: dict[str, Any]) -> httpx.Response:
        """A write to the gateway, sent again with its key while the gateway answers 5xx/429."""
        for _ in range(OPERATOR_ROUNDS):
            response = await self.client.post(path, json=body, headers={"Idempotency-Key": key})
            if response.status_code not in RETRIED:
                if response.status_code >= 300:
                    self.refused.append(
                        f"POST {path} {key}: {response.status_code} {response.text}"
                    )
                return response
        self.refused.append(f"POST {path} {key}: still {response.status_code}")
        return response

    async def settle_webhooks(self) -> None:
        """Billing's pending webhook deliveries have reached the gateway."""
        while tasks := self.stripe.webhook_tasks:
            await asyncio.gather(*list(tasks), return_exceptions=True)

    async def work(self) -> None:
        """The worker's day: the billing inbox, the accounts whose grace has passed."""
        await self.settle_webhooks()
        context = self.app.state.process
        inbox = BillingInbox(context)
        while (await inbox.drain()).consumed:
            pass
        await DunningSchedule(context).suspend_due()

    async def operate(self) -> None:
        """The operator replays the exception queue until it is empty."""
        for _ in range(OPERATOR_ROUNDS):
            await self.work()
            listed = await self.ops.get("/ops/v1/exceptions", params={"limit": 200})
            listed.raise_for_status()
            entries = listed.json()["items"]
            if not entries:
                return
            for entry in entries:
                self.replays += 1
                await self.ops.post(f"/ops/v1/exceptions/{entry['id']}/replay")
        self.refused += [
            f"still queued after {OPERATOR_ROUNDS} replays: {e['id']} {e.get('workflow')}"
            for e in entries
        ]


async def lifecycle_month(
    database_url: str,
    *,
    customers: int,
    days: int,
    grace: int,
    seed: int = 18,
    faults: FaultConfig = FAULTS,
) -> Outcome:
    """The month on an empty, migrated database."""
    async with _gateway(database_url, grace=grace) as month:
        people = await _customers(month, customers)
        month.on(0)
        for person in people:
            await _order(month, person)
        await month.operate()
        for person in people:
            await _paid(month, person)
        _plan(month, people, days, random.Random(seed))
        for injector in month.backends.faults.values():
            injector.configure(faults)
        for day in range(1, days):
            month.on(day)
            for action in month.plan.get(day, []):
                await action()
            await month.operate()
        injected = {
            name: sum(injector.report()["injected"].values())
            for name, injector in month.backends.faults.items()
        }
        requests = {n: i.report()["requests"] for n, i in month.backends.faults.items()}
        for injector in month.backends.faults.values():
            injector.configure(FaultConfig())  # the checks read with no storm
        details = month.refused + await _differences(month) + await _statuses(month, people)
        details += await _erp_documents(month, people)
        suspended = sum(p.expected == "suspended" for p in people)
        summary = (
            f"{len(people)} customers over {days} days ({suspended} suspended at the end), "
            f"backend faults injected {sum(injected.values())} of {sum(requests.values())} "
            f"requests ({', '.join(f'{n} {c}' for n, c in sorted(injected.items()))}), "
            f"{month.replays} replays"
        )
        return Outcome(CHECK, not details, summary, details)


def run(customers: int, days: int, logs: Path) -> Outcome:
    """The check on a throwaway PostgreSQL database, as the other checks run."""
    del logs  # everything it finds is in its outcome
    return asyncio.run(_on_postgres(customers, days))


async def _on_postgres(customers: int, days: int) -> Outcome:
    url = await create_database()
    try:
        engine = create_engine(url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()
        return await lifecycle_month(url, customers=customers, days=days, grace=14)
    finally:
        await drop_database(url)


@asynccontextmanager
async def _gateway(database_url: str, *, grace: int) -> AsyncIterator[Month]:
    """The gateway app with its in-process sandboxes on the demo estate; billing sends
    it its signed events and runs on a manual clock."""
    engine = create_engine(database_url)
    sessionmaker = create_sessionmaker(engine)
    await seed_demo_estate(sessionmaker)
    settings = Settings(
        environment="test",
        database_url=database_url,
        migrate_on_start=False,
        seed_demo_data=False,
        background_work=False,
        dunning_grace_days=grace,
        erp=BACKEND,  # type: ignore[arg-type]
        billing=BACKEND,  # type: ignore[arg-type]
        crm=BACKEND,  # type: ignore[arg-type]
        support=BACKEND,  # type: ignore[arg-type]
    )
    backends = build_backends(settings)
    assert backends.billing_sandbox is not None
    start = date.today().replace(day=1)
    backends.billing_sandbox.clock = ManualClock(0)
    backends.billing_sandbox.webhook_clock = unix_now
    backends.billing_sandbox.webhook_retry_delays = ()  # the operator sees what failed
    app = create_app(settings, backends=backends)
    backends.deliver_billing_events(app, secret=settings.billing.webhook_secret.get_secret_value())
    gateway = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    billing = httpx.ASGITransport(app=stripe.create_app(backends.billing_sandbox))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=gateway,
            base_url="http://gateway.test",
            headers=await _bearer(app, sessionmaker, DEFAULT_CLIENT_SCOPES, "lifecycle-platform"),
        ) as client,
        httpx.AsyncClient(
            transport=gateway,
            base_url="http://gateway.test",
            headers=await _bearer(app, sessionmaker, OPS, "lifecycle-ops"),
        ) as ops,
        httpx.AsyncClient(
            transport=billing,
            base_url="http://billing.test",
            headers={"Authorization": f"Bearer {STRIPE_KEY}"},
        ) as billing_api,
    ):
        month = Month(app, backends, sessionmaker, client, ops, billing_api, start, grace)
        month.on(0)
        try:
            yield month
        finally:
            await month.settle_webhooks()
            await backends.aclose()
            await engine.dispose()


async def _bearer(
    app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession], scopes: Any, client_id: str
) -> dict[str, str]:
    async with sessionmaker.begin() as session:
        row, _ = await create_client(
            session, name=client_id, scopes=scopes, partner_id=None, client_id=client_id
        )
    auth = app.state.auth
    token, _ = issue_token(
        auth.ring,
        auth.settings,
        client_id=row.id,
        scopes=sorted(scopes),
        partner_id=None,
        tier=row.tier,
    )
    return {"Authorization": f"Bearer {token}"}


async def _customers(month: Month, count: int) -> list[Customer]:
    """`count` US customers of the demo partner, their roles in turn."""
    people = [Customer(new_id("customer"), ROLES[i % len(ROLES)]) for i in range(count)]
    async with month.sessionmaker.begin() as session:
        for number, person in enumerate(people, start=1):
            session.add(
                CustomerRow(
                    id=person.id,
                    name=f"Lifecycle Customer {number}",
                    email=f"billing@customer-{number}.example",
                    legal_entity_id=US_ENTITY,
                    currency="USD",
                    partner_id=PARTNER,
                    status=CustomerStatus.ACTIVE,
                    erp_number=default_erp_number(person.id),
                )
            )
    crm = month.backends.crm_sandbox
    assert crm is not None
    for person in people:  # the partner's deal registration, approved in the CRM
        registration = crm.next_registration_id()
        crm.registrations[registration] = Registration(
            id=registration,
            partner_ref=PARTNER,
            customer_ref=person.id,
            product_tiers=list(DEMO_PRODUCT_TIERS),
            status="approved",
            registered_on=month.start - timedelta(days=30),
            decided_on=month.start - timedelta(days=29),
            expires_on=month.start + timedelta(days=365),
        )
    return people


async def _order(month: Month, person: Customer) -> None:
    body = {"customer_id": person.id, "price_id": PRO_USD, "quantity": 2}
    await month.send("/v1/subscriptions", f"order-{person.id}", body)


async def _paid(month: Month, person: Customer) -> None:
    """The customer's billing customer, paid charge and its gateway invoice."""
    async with month.sessionmaker() as session:
        row = await session.get_one(CustomerRow, person.id)
        person.billing_id = row.billing_ref or ""
    [charge] = [c for c in month.stripe.charges.values() if c["customer"] == person.billing_id]
    person.charge, person.amount = charge["id"], charge["amount"]
    async with month.sessionmaker() as session:
        invoice = await session.scalar(
            select(InvoiceRow).where(InvoiceRow.billing_ref == charge["invoice"])
        )
    assert invoice is not None, f"{person.id}: billing's invoice never reached the gateway"
    person.invoice = invoice.id


def _plan(month: Month, people: list[Customer], days: int, rng: random.Random) -> None:
    """What happens to whom on which day of the month."""
    last = days - 1

    def at(day: int, action: Callable[[], Awaitable[None]]) -> None:
        month.plan.setdefault(max(1, min(day, last)), []).append(action)

    failing_days = max(1, days - month.grace - 3)
    for person in people:
        some_day = rng.randint(1, last)
        fails = 1 + rng.randrange(failing_days)
        match person.role:
            case "pays":
                at(some_day, lambda p=person: _credit(month, p, "customer_balance"))
            case "recovers":
                at(fails, lambda p=person: _decline_renewal(month, p))
                at(fails + 1, lambda p=person: _pay_renewal(month, p))
            case "reactivated":
                at(fails, lambda p=person: _decline_renewal(month, p))
                at(fails + month.grace + 1, lambda p=person: _pay_renewal(month, p))
            case "suspended":
                at(fails, lambda p=person: _decline_renewal(month, p))
            case "refunded":
                at(some_day, lambda p=person: _refund(month, p))
            case "dispute-won" | "dispute-lost":
                opened = rng.randint(1, max(1, last - 2))
                at(opened, lambda p=person: _dispute(month, p))
                won = person.role == "dispute-won"
                at(opened + 2, lambda p=person, w=won: _decide(month, p, won=w))
            case "credited-unpaid":
                at(fails, lambda p=person: _decline_renewal(month, p))
                at(fails + 1, lambda p=person: _credit_renewal(month, p))
                at(fails + 2, lambda p=person: _pay_renewal(month, p))
            case "credit-refunded":
                at(some_day, lambda p=person: _credit(month, p, "refund"))
                at(rng.randint(1, last), lambda p=person: _quote(month, p))


async def _decline_renewal(month: Month, person: Customer) -> None:
    """The card now declines, and the subscription's period is over: billing renews it."""
    customer = month.stripe.customers[person.billing_id]
    customer["invoice_settings"]["default_payment_method"] = DECLINED
    for subscription in month.stripe.subscriptions.values():
        if subscription["customer"] == person.billing_id:
            subscription["current_period_end"] = month.stripe.clock() - 1
    response = await month.billing.get("/v1/invoices", params={"customer": person.billing_id})
    response.raise_for_status()  # billing bills the periods its clock has passed first


async def _pay_renewal(month: Month, person: Customer) -> None:
    """A working card, and billing collects the unpaid renewal."""
    customer = month.stripe.customers[person.billing_id]
    customer["invoice_settings"]["default_payment_method"] = PAYS
    unpaid = [
        i["id"]
        for i in month.stripe.invoices.values()
        if i["customer"] == person.billing_id and not i["paid"]
    ]
    for invoice in unpaid:
        response = await month.billing.post(f"/v1/invoices/{invoice}/pay")
        response.raise_for_status()


async def _refund(month: Month, person: Customer) -> None:
    response = await month.billing.post(
        "/v1/refunds", data={"charge": person.charge, "amount": str(person.amount // 4)}
    )
    response.raise_for_status()


async def _dispute(month: Month, person: Customer) -> None:
    """The cardholder disputes the charge; billing sends the event."""
    open_dispute(month.stripe, month.stripe.charges[person.charge])
    events, month.stripe.outbox = month.stripe.outbox, []
    person.dispute = events[-1]["data"]["object"]["id"]
    await stripe.deliver_events(month.stripe, events)


async def _decide(month: Month, person: Customer, *, won: bool) -> None:
    await stripe.decide_dispute(month.stripe, person.dispute, won=won)


async def _credit(month: Month, person: Customer, settlement: str) -> None:
    """Support credits part of the paid invoice, settled by a refund or on the balance."""
    await _credit_invoice(month, person, person.invoice, {"settlement": settlement})


async def _credit_renewal(month: Month, person: Customer) -> None:
    """Support credits part of the unpaid renewal: it lowers what is due before it is paid."""
    [unpaid] = [
        i["id"]
        for i in month.stripe.invoices.values()
        if i["customer"] == person.billing_id and not i["paid"]
    ]
    async with month.sessionmaker() as session:
        invoice = await session.scalar(
            select(InvoiceRow.id).where(InvoiceRow.billing_ref == unpaid)
        )
    if invoice is None:
        month.refused.append(f"{person.id}: billing's renewal {unpaid} is no gateway invoice")
        return
    await _credit_invoice(month, person, invoice, {})


async def _credit_invoice(
    month: Month, person: Customer, invoice: str, settlement: dict[str, str]
) -> None:
    case = await _case(month, person)
    body = {
        "invoice_id": invoice,
        "amount": person.amount // 5,
        "currency": "USD",
        "reason_code": "outage",
        "case_id": case,
        **settlement,
    }
    await month.send("/v1/credit-memos", f"credit-{person.id}", body)


async def _case(month: Month, person: Customer) -> str:
    """The customer's support case (opened in the desk, as its agent would)."""
    desk = month.backends.support_sandbox
    assert desk is not None
    for _ in range(OPERATOR_ROUNDS):
        try:
            case = await month.backends.support.open_case(
                SupportCaseCreate(customer_id=person.id, subject="The API was down"),
                idempotency_key=f"case-{person.id}",
            )
            return case.id
        except Exception:  # noqa: BLE001 - the desk is stormy; its agent tries again
            continue
    raise RuntimeError(f"no support case could be opened for {person.id}")


async def _quote(month: Month, person: Customer) -> None:
    """The CRM's accepted quote, ordered: an ERP sales order and its subscriptions."""
    body = {
        "quote_id": f"Q-{person.id[-8:]}",
        "customer_id": person.id,
        "service_start": month.today.isoformat(),
        "lines": [{"price_id": ENTERPRISE_USD, "quantity": 1}],
    }
    await month.send("/v1/orders", f"quote-{person.id}", body)


async def _differences(month: Month) -> list[str]:
    """The ops reconciliation of every month the simulation touched."""
    periods = sorted({(month.start + timedelta(days=d)).strftime("%Y-%m") for d in range(32)})
    periods = [p for p in periods if p <= month.today.strftime("%Y-%m")]
    found = []
    for period in periods:
        response = await month.ops.get(
            "/ops/v1/reconciliation", params={"period": period, "legal_entity": US_ENTITY}
        )
        if response.status_code != 200:
            found.append(f"reconciliation {period}: {response.status_code} {response.text}")
            continue
        found += [
            f"reconciliation {period}: {d['document_type']} {d['key']} {d['cause']}"
            for d in response.json()["differences"]
        ]
    return found


async def _statuses(month: Month, people: list[Customer]) -> list[str]:
    """Each account as billing, the desk, the CRM and the ERP hold it, and as planned."""
    desk, crm = month.backends.support_sandbox, month.backends.crm_sandbox
    assert desk is not None
    assert crm is not None
    erp_customers = {c.number: c for c in month.erp.books[US_COMPANY].customers.values()}
    found = []
    for person in people:
        held = {
            "plan": person.expected,
            "billing": _billing_status(month, person),
            "support": desk.account(person.id).status,
            "crm": crm.account(person.id).status,
            "erp": "suspended"
            if erp_customers[default_erp_number(person.id)].blocked == "All"
            else "active",
        }
        if len(set(held.values())) > 1:
            found.append(f"{person.id} ({person.role}): {held}")
    return found


def _billing_status(month: Month, person: Customer) -> str:
    """Suspended when billing holds a renewal unpaid for the grace period."""
    now = month.stripe.clock()
    unpaid = [
        i["created"]
        for i in month.stripe.invoices.values()
        if i["customer"] == person.billing_id and not i["paid"]
    ]
    overdue = bool(unpaid) and now - min(unpaid) >= month.grace * 86400
    return "suspended" if overdue else "active"


async def _erp_documents(month: Month, people: list[Customer]) -> list[str]:
    """No external document number twice in the ERP, and nothing billed missing there."""
    book = month.erp.books[US_COMPANY]
    kinds = {
        "sales invoice": [i.external_document_number for i in book.invoices.values()],
        "credit memo": [m.external_document_number for m in book.credit_memos.values()],
        "sales order": [o.external_document_number for o in book.sales_orders.values()],
        "customer payment": [
            p.external_document_number for j in book.payment_journals.values() for p in j.payments
        ],
    }
    found = [
        f"ERP holds {kind} {number} {count} times"
        for kind, numbers in kinds.items()
        for number, count in Counter(numbers).items()
        if count > 1
    ]
    found += [f"ERP created {n} again {c} times" for n, c in month.erp.repeated_creates.items()]
    numbers = set(kinds["sales invoice"])
    ours = {p.billing_id for p in people}
    billed = {i["id"] for i in month.stripe.invoices.values() if i["customer"] in ours}
    async with month.sessionmaker() as session:
        invoices = {
            i.billing_ref: i.id
            for i in await session.scalars(
                select(InvoiceRow).where(InvoiceRow.billing_ref.in_(billed))
            )
        }
        refunds = list(await session.scalars(select(RefundRow)))
        memos = list(await session.scalars(select(CreditMemoRow)))
        lost = list(await session.scalars(select(DisputeRow).where(DisputeRow.status == "lost")))
        runs = list(await session.scalars(select(WorkflowRunRow)))
    unfinished = [r for r in runs if r.status != RunStatus.SUCCEEDED]
    # A refund that adopted a credit paid back withdraws its own memo, never sent anywhere.
    withdrawn = {(r.result or {}).get("withdrawn_credit_memo") for r in runs} - {None}
    found += [f"run {r.id} ({r.workflow}) {r.status}: {r.error_detail}" for r in unfinished]
    found += [f"billing invoice {b} is no gateway invoice" for b in billed - invoices.keys()]
    found += [f"invoice {i} is not in the ERP" for i in invoices.values() if i not in numbers]
    refunded = {r["id"] for c in month.stripe.charges.values() for r in c["refunds"]["data"]}
    found += [
        f"billing refund {r} is no gateway refund"
        for r in refunded - {r.source_ref for r in refunds}
    ]
    found += [f"refund {r.id} is {r.status}" for r in refunds if r.status != "booked"]
    found += [
        f"credit memo {m.id} is {m.status}"
        for m in memos
        if m.status != "posted" and m.id not in withdrawn
    ]
    found += [
        f"withdrawn credit memo {m} is in the ERP" for m in withdrawn & set(kinds["credit memo"])
    ]
    journaled = {entry.document_number for entry in book.ledger}
    found += [
        f"lost dispute {d.id} is not journaled"
        for d in lost
        if d.erp_document_number not in journaled
    ]
    quoted = {p.id for p in people if p.role == "credit-refunded"}
    ordered = {o.customer.number for o in book.sales_orders.values()}
    found += [
        f"{c}'s quote is no ERP sales order" for c in quoted if default_erp_number(c) not in ordered
    ]
    return found
