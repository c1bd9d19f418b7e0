"""Running a workflow test on either ERP: the demo US entity (LG-US) books in Business
Central, or is moved to a NetSuite connection of its own, as an operator would.

`ErpCase` reads what reached the ERP from the sandbox's own records, whichever kind it
is, in minor units, so one test body asserts on both.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest

from app.seed import demo_id
from sandboxes.business_central import BusinessCentralState
from sandboxes.netsuite import NetSuiteState
from tests.conftest import FAST_RETRIES, Gateway, GatewayFactory
from tests.support.invoices import US_COMPANY

ERP_KINDS = ("business_central", "netsuite")
NETSUITE_CONNECTION = "netsuite"
US_ENTITY = demo_id("legal_entity", 1)
US_SUBSIDIARY = "1"  # the NetSuite sandbox's subsidiary of the demo US Inc.


def _minor(amount: Decimal) -> int:
    return int(amount * 100)


@dataclass
class ErpCase:
    """A gateway whose US entity books in the ERP of `kind`, and that ERP's records."""

    kind: str
    gateway: Gateway

    @property
    def company_id(self) -> str:
        """The US entity's company in its ERP: a BC company id or a NetSuite subsidiary."""
        return US_COMPANY if self.kind == "business_central" else US_SUBSIDIARY

    @property
    def backend(self) -> str:
        """The name of the US entity's ERP backend (its client, circuit and transport)."""
        return "erp" if self.kind == "business_central" else f"erp-{NETSUITE_CONNECTION}"

    @property
    def _bc(self) -> BusinessCentralState:
        assert self.kind == "business_central"
        assert self.gateway.backends.erp_sandbox is not None
        return self.gateway.backends.erp_sandbox

    @property
    def _ns(self) -> NetSuiteState:
        state = self.gateway.backends.erp_sandboxes[NETSUITE_CONNECTION]
        assert isinstance(state, NetSuiteState)
        return state

    def posted_invoices(self) -> list[str]:
        """The external ids of the US entity's posted invoices, oldest first."""
        if self.kind == "business_central":
            return [i.external_document_number for i in self._bc.posted_invoices(US_COMPANY)]
        return [i.external_id for i in self._ns.invoices.values() if i.approval_status == "2"]

    def invoice_count(self, external: str) -> int:
        if self.kind == "business_central":
            return self._bc.document_count(US_COMPANY, external)
        return self._ns.invoice_count(external)

    def unapplied_credit(self, external: str) -> int:
        """Minor units of the credit memo `external` applied to no invoice: the customer's
        open credit (BC applies a memo only to the invoice it names when posted)."""
        if self.kind == "business_central":
            [memo] = [
                memo
                for memo in self._bc.books[US_COMPANY].credit_memos.values()
                if memo.external_document_number == external
            ]
            return 0 if memo.invoice is not None else _minor(memo.total_including_tax)
        [ns_memo] = [m for m in self._ns.credit_memos.values() if m.external_id == external]
        return _minor(ns_memo.unapplied)

    def payments(self) -> dict[str, int]:
        """External document number → minor units of each customer payment, and of each
        reversing entry (negative): BC's reversing payment line, or NetSuite's journal
        entry debiting a customer's receivable."""
        if self.kind == "business_central":
            return {
                payment.external_document_number: _minor(payment.amount)
                for journal in self._bc.books[US_COMPANY].payment_journals.values()
                for payment in journal.payments
            }
        payments = {p.external_id: _minor(p.payment) for p in self._ns.payments.values()}
        reversals = {
            entry.external_id: -_minor(line.debit)
            for entry in self._ns.journal_entries.values()
            for line in entry.lines
            if entry.approved and line.entity is not None and line.debit
        }
        return payments | reversals

    def sales_order(self, external: str) -> tuple[int, int] | None:
        """(line count, net minor units) of the sales order with this external number."""
        if self.kind == "business_central":
            bc = self._bc.sales_order(US_COMPANY, external)
            return None if bc is None else (len(bc.lines), _minor(bc.total_excluding_tax))
        ns = self._ns.sales_order(external)
        return None if ns is None else (len(ns.lines), _minor(ns.subtotal))

    def set_credit(self, number: str, *, limit: int | None = None, blocked: bool = False) -> None:
        """The ERP customer's credit limit (minor units; `None`: none) and block, as finance
        sets them in the ERP."""
        if self.kind == "business_central":
            customer = next(
                c for c in self._bc.books[US_COMPANY].customers.values() if c.number == number
            )
            customer.credit_limit = Decimal(limit or 0) / 100
            customer.blocked = "All" if blocked else " "
            return
        record = next(c for c in self._ns.customers.values() if c.external_id == number)
        record.credit_limit = None if limit is None else Decimal(limit) / 100
        record.credit_hold = "ON" if blocked else "AUTO"

    def reprice_sales_order(self, external: str, delta: int) -> None:
        """The first line of the order changed by `delta` minor units in the ERP."""
        if self.kind == "business_central":
            order = self._bc.sales_order(US_COMPANY, external)
            assert order is not None
            order.lines[0].amount_excluding_tax += Decimal(delta) / 100
            return
        record = self._ns.sales_order(external)
        assert record is not None
        record.lines[0].amount += Decimal(delta) / 100

    def move_sales_order(self, external: str, status: str) -> None:
        """The order released, completed or canceled in the ERP, as a person would."""
        if self.kind == "business_central":
            order = self._bc.sales_order(US_COMPANY, external)
            assert order is not None
            if status == "canceled":
                del self._bc.books[US_COMPANY].sales_orders[order.id]
            else:
                order.status = "Open"
                order.fully_shipped = status == "completed"
            return
        record = self._ns.sales_order(external)
        assert record is not None
        record.order_status = {"released": "B", "completed": "G", "canceled": "C"}[status]

    def ledger(self, document: str) -> list[tuple[str, int, int]]:
        """(account, debit, credit) of each posted ledger entry of the journal `document`."""
        if self.kind == "business_central":
            return [
                (e.account_number, _minor(e.debit_amount), _minor(e.credit_amount))
                for e in self._bc.ledger(US_COMPANY)
                if e.document_number == document
            ]
        return [
            (line.account.acct_number, _minor(line.debit), _minor(line.credit))
            for entry in self._ns.journal_entries.values()
            if entry.tran_id == document and entry.approved
            for line in entry.lines
        ]

    def account_entries(self, account: str) -> list[tuple[str, int, int]]:
        """(document, debit, credit) of each posted ledger entry on the G/L `account`: the
        journals', and the lines of posted invoices (credited) and credit memos (debited)
        booked to it (BC's G/L entries; NetSuite's documents and journal entries)."""
        if self.kind == "business_central":
            return [
                (e.document_number, _minor(e.debit_amount), _minor(e.credit_amount))
                for e in self._bc.ledger(US_COMPANY)
                if e.account_number == account
            ]
        state = self._ns
        journals = [
            (entry.tran_id, _minor(line.debit), _minor(line.credit))
            for entry in state.journal_entries.values()
            if entry.approved
            for line in entry.lines
            if line.account.acct_number == account
        ]
        invoices = [
            (invoice.tran_id, 0, _minor(line.amount))
            for invoice in state.invoices.values()
            if invoice.approval_status == "2"
            for line in invoice.lines
            if line.account is not None and line.account.acct_number == account
        ]
        memos = [
            (memo.tran_id, _minor(line.amount), 0)
            for memo in state.credit_memos.values()
            for line in memo.lines
            if line.account is not None and line.account.acct_number == account
        ]
        return journals + invoices + memos


async def on_erp(make_gateway: GatewayFactory, kind: str, **overrides: object) -> ErpCase:
    """A gateway (with `overrides`) whose US entity books in the ERP of `kind`."""
    if kind == "business_central":
        return ErpCase(kind, await make_gateway(**overrides))
    connection = {"kind": "netsuite", **FAST_RETRIES}
    gateway = await make_gateway(erp_connections={NETSUITE_CONNECTION: connection}, **overrides)
    ops = await gateway.client_with({"refdata:write"})
    moved = await ops.patch(
        f"/ops/v1/legal-entities/{US_ENTITY}",
        json={"erp_connection": NETSUITE_CONNECTION, "erp_company_id": US_SUBSIDIARY},
        headers={"If-Match": '"1"'},
    )
    await ops.aclose()
    assert moved.status_code == 200, moved.text
    return ErpCase(kind, gateway)


@pytest.fixture(params=ERP_KINDS)
def erp_kind(request: pytest.FixtureRequest) -> str:
    """Each ERP kind in turn: parametrizes a workflow's key end-to-end tests."""
    kind: str = request.param
    return kind


@pytest.fixture
async def erp_case(make_gateway: GatewayFactory, erp_kind: str) -> ErpCase:
    return await on_erp(make_gateway, erp_kind)
