"""The benchmarks' load generator: units of steps, captured values, each unit once."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import date

import pytest
import uvicorn
from pydantic import ValidationError

from bench.loadgen import Plan, Step, Unit, gets, run
from bench.posting import COMPANY, ERP_API, _wire
from sandboxes.business_central import BusinessCentralState, create_app
from system_apis.erp.mapping import customer_to_bc, sales_invoice_to_bc, sales_line_to_bc
from system_apis.erp.schemas import ErpCustomerUpsert, ErpInvoiceLine, ErpSalesInvoiceCreate

CUSTOMER = ErpCustomerUpsert(number="C-1", display_name="Acme", email="", currency="USD")
LINE = ErpInvoiceLine(
    sequence=1, description="Pro", quantity=3, unit_price=4900, tax_code="STANDARD"
)


@pytest.fixture
async def sandbox() -> AsyncIterator[tuple[str, BusinessCentralState]]:
    """The ERP sandbox under uvicorn on a loopback port, in the test's event loop."""
    state = BusinessCentralState()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(state), host="127.0.0.1", port=port, log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}{ERP_API}/companies({COMPANY.id})", state
    finally:
        server.should_exit = True
        await task


def posting(base: str, number: str) -> Unit:
    document = ErpSalesInvoiceCreate(
        external_document_number=number,
        customer_number=CUSTOMER.number,
        currency="USD",
        posting_date=date.today(),
        due_date=date.today(),
        lines=(LINE,),
    )
    invoices = f"{base}/salesInvoices"
    return Unit(
        steps=[
            Step(
                method="POST",
                url=invoices,
                body=_wire(sales_invoice_to_bc(document)),
                expect=[201],
                capture={"draft": "id"},
            ),
            Step(
                method="POST",
                url=invoices + "({{draft}})/salesInvoiceLines",
                body=_wire(sales_line_to_bc(LINE, "USD")),
                expect=[201],
            ),
            Step(method="POST", url=invoices + "({{draft}})/Microsoft.NAV.post", expect=[204]),
        ]
    )


def plan(units: list[Unit], *, once: bool = False, max_requests: int = 1000) -> Plan:
    return Plan(units=units, concurrency=2, duration=10, max_requests=max_requests, once=once)


async def test_a_unit_sends_its_steps_in_order_with_the_captured_id(
    sandbox: tuple[str, BusinessCentralState],
) -> None:
    base, state = sandbox
    body = _wire(customer_to_bc(CUSTOMER))
    customer = Unit(steps=[Step(method="POST", url=f"{base}/customers", body=body, expect=[201])])
    assert (await run(plan([customer], once=True))).errors == 0

    result = await run(plan([posting(base, "inv-1"), posting(base, "inv-2")], once=True))

    assert (result.requests, result.http_requests, result.errors) == (2, 6, 0)
    posted = {i.external_document_number: i.status for i in state.posted_invoices(COMPANY.id)}
    assert posted == {"inv-1": "Open", "inv-2": "Open"}


async def test_a_failing_step_ends_its_unit_and_is_counted_with_its_place(
    sandbox: tuple[str, BusinessCentralState],
) -> None:
    base, _ = sandbox
    # No customer C-1 in the ERP: the create is refused, and nothing more is sent.
    result = await run(plan([posting(base, "inv-1")], once=True))

    assert (result.requests, result.http_requests, result.errors) == (1, 1, 1)
    assert result.error_kinds == {"step 1: 400": 1}


async def test_units_cycle_unless_sent_once(sandbox: tuple[str, BusinessCentralState]) -> None:
    base, _ = sandbox
    companies = gets([f"{base}/taxGroups", f"{base}/currencies"])

    assert (await run(plan(companies, max_requests=7))).requests == 7
    assert (await run(plan(companies, once=True, max_requests=7))).requests == 2


def test_only_loopback_addresses_are_accepted() -> None:
    with pytest.raises(ValidationError, match="not a loopback address"):
        Step(url="http://example.com/v1/invoices")
