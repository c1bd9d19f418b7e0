"""Several ERPs at once: each legal entity posts through its own ERP connection."""

from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.seed import demo_id, demo_netsuite_connection, seed_demo_estate
from core.db import create_engine, create_sessionmaker
from core.errors import PROBLEM_BASE_URI
from core.models.legal_entity import LegalEntityRow
from core.settings import Settings
from sandboxes.netsuite import NetSuiteState
from system_apis.erp.schemas import ErpDocumentStatus
from system_apis.support.schemas import SupportCaseCreate
from tests.conftest import FAST_RETRIES, Gateway, GatewayFactory
from tests.support.databases import fresh_database
from tests.support.invoices import DE_COMPANY, INITECH, US_COMPANY, invoice_body, last_month

DE_ENTITY = demo_id("legal_entity", 2)
NETSUITE = {"emea": {"kind": "netsuite", **FAST_RETRIES}}
DE_SUBSIDIARY = "2"  # the NetSuite sandbox's subsidiary of the demo GmbH


async def move_de_to_netsuite(gateway: Gateway) -> None:
    ops = await gateway.client_with({"refdata:write"})
    moved = await ops.patch(
        f"/ops/v1/legal-entities/{DE_ENTITY}",
        json={"erp_connection": "emea", "erp_company_id": DE_SUBSIDIARY},
        headers={"If-Match": '"1"'},
    )
    assert moved.status_code == 200, moved.text


async def post(gateway: Gateway, body: dict[str, object], key: str) -> httpx.Response:
    invoice = await gateway.client.post("/v1/invoices", json=body)
    assert invoice.status_code == 201, invoice.text
    return await gateway.client.post(
        f"/v1/invoices/{invoice.json()['id']}/postings", json={}, headers={"Idempotency-Key": key}
    )


async def test_each_legal_entity_posts_to_its_own_erp(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway(erp_connections=NETSUITE)
    await move_de_to_netsuite(gateway)
    netsuite = gateway.backends.erp_sandboxes["emea"]
    business_central = gateway.backends.erp_sandbox
    assert isinstance(netsuite, NetSuiteState)
    assert business_central is not None

    today = date.today()
    emea = await post(gateway, invoice_body(INITECH, currency="EUR", invoice_date=today), "k-1")
    assert emea.status_code == 201, emea.text
    emea_id = emea.json()["invoice_id"]
    assert netsuite.invoice_count(emea_id) == 1
    assert business_central.document_count(DE_COMPANY, emea_id) == 0

    us = await post(gateway, invoice_body(invoice_date=today), "k-2")
    assert us.status_code == 201, us.text
    us_id = us.json()["invoice_id"]
    assert business_central.document_count(US_COMPANY, us_id) == 1
    assert netsuite.invoice_count(us_id) == 0


async def test_a_legal_entity_names_only_a_configured_connection(gateway: Gateway) -> None:
    ops = await gateway.client_with({"refdata:write"})
    refused = await ops.patch(
        f"/ops/v1/legal-entities/{DE_ENTITY}",
        json={"erp_connection": "emea"},
        headers={"If-Match": '"1"'},
    )
    assert refused.status_code == 422
    assert refused.json()["type"] == PROBLEM_BASE_URI + "unknown-erp-connection"


@pytest.fixture(params=["business_central", "netsuite"])
async def de_on(
    request: pytest.FixtureRequest, make_gateway: GatewayFactory
) -> tuple[Gateway, str]:
    """A gateway whose LG-DE posts to the ERP of the parameter's kind, and its company there."""
    if request.param == "business_central":
        return await make_gateway(), DE_COMPANY
    gateway = await make_gateway(erp_connections=NETSUITE)
    await move_de_to_netsuite(gateway)
    return gateway, DE_SUBSIDIARY


def de_invoice(invoice_date: date, **overrides: Any) -> dict[str, Any]:
    return invoice_body(INITECH, currency="EUR", invoice_date=invoice_date, **overrides)


async def test_posting_is_acknowledged_once_by_either_erp(de_on: tuple[Gateway, str]) -> None:
    gateway, company = de_on
    body = de_invoice(date.today())
    posted = await post(gateway, body, "k-1")
    assert posted.status_code == 201, posted.text
    invoice_id, document = posted.json()["invoice_id"], posted.json()["posting"]
    again = await gateway.client.post(
        f"/v1/invoices/{invoice_id}/postings", json={}, headers={"Idempotency-Key": "k-2"}
    )
    assert again.status_code == 200, again.text
    assert again.json()["already_posted"] is True
    assert again.json()["posting"]["erp_document_id"] == document["erp_document_id"]
    erp = await gateway.backends.erp.find_sales_invoice(company, invoice_id)
    assert erp is not None
    assert (erp.id, erp.status, erp.total_including_tax) == (
        document["erp_document_id"],
        ErpDocumentStatus.POSTED,
        body["total"],
    )


async def test_a_closed_period_rolls_forward_in_either_erp(de_on: tuple[Gateway, str]) -> None:
    gateway, company = de_on
    posted = await post(gateway, de_invoice(last_month()), "k-1")
    assert posted.status_code == 201, posted.text
    first_open_day = date.today().replace(day=1)
    assert posted.json()["posting"]["posting_date"] == first_open_day.isoformat()
    erp = await gateway.backends.erp.find_sales_invoice(company, posted.json()["invoice_id"])
    assert erp is not None
    assert erp.posting_date == first_open_day


async def test_a_tax_group_the_erp_lacks_is_a_business_problem_in_either_erp(
    de_on: tuple[Gateway, str],
) -> None:
    gateway, company = de_on
    lines = (("Seat", 1, 1000, "EXEMPT"),)  # LG-DE has STANDARD, REDUCED and REVERSE
    refused = await post(gateway, de_invoice(date.today(), lines=lines), "k-1")
    assert refused.status_code == 422, refused.text
    assert refused.json()["type"] == PROBLEM_BASE_URI + "unknown-tax-code"
    invoice_id = refused.json()["instance"].split("/")[3]
    assert await gateway.backends.erp.find_sales_invoice(company, invoice_id) is None


async def test_a_credit_memo_is_applied_to_its_invoice_in_either_erp(
    de_on: tuple[Gateway, str],
) -> None:
    gateway, company = de_on
    body = de_invoice(date.today())
    posted = await post(gateway, body, "k-1")
    assert posted.status_code == 201, posted.text
    case = await gateway.backends.support.open_case(
        SupportCaseCreate(customer_id=INITECH, subject="Down for two hours"), idempotency_key="c"
    )
    invoice_id = posted.json()["invoice_id"]
    credit = await gateway.client.post(
        "/v1/credit-memos",
        json={
            "invoice_id": invoice_id,
            "amount": 1000,
            "currency": "EUR",
            "reason_code": "outage",
            "case_id": case.id,
        },
        headers={"Idempotency-Key": "c-1"},
    )
    assert credit.status_code == 201, credit.text
    memo = credit.json()
    assert memo["status"] == "posted", memo
    erp_memo = await gateway.backends.erp.find_sales_credit_memo(company, memo["id"])
    assert erp_memo is not None
    assert (erp_memo.status, erp_memo.applies_to_invoice_id) == (
        ErpDocumentStatus.PAID,  # applied in full
        posted.json()["posting"]["erp_document_id"],
    )
    erp_invoice = await gateway.backends.erp.get_sales_invoice(
        company, posted.json()["posting"]["erp_document_id"]
    )
    assert erp_invoice.remaining_amount == body["total"] - erp_memo.total_including_tax


async def test_the_demo_estate_books_its_german_entity_in_netsuite(
    database_url: str, tmp_path: Path
) -> None:
    engine = create_engine(await fresh_database(database_url, tmp_path))
    development = Settings(_env_file=None, database_url=database_url)  # type: ignore[call-arg]
    try:
        sessionmaker = create_sessionmaker(engine)
        assert await seed_demo_estate(
            sessionmaker, netsuite_connection=demo_netsuite_connection(development)
        )
        async with sessionmaker() as session:
            rows = await session.execute(
                select(
                    LegalEntityRow.code,
                    LegalEntityRow.erp_connection,
                    LegalEntityRow.erp_company_id,
                ).order_by(LegalEntityRow.code)
            )
            entities = rows.all()
    finally:
        await engine.dispose()

    assert [tuple(row) for row in entities] == [
        ("LG-DE", "netsuite", "2"),
        ("LG-US", "default", US_COMPANY),
    ]
    test = Settings(_env_file=None, environment="test")  # type: ignore[call-arg]
    assert demo_netsuite_connection(test) is None


async def test_a_correction_is_applied_to_its_invoice_in_either_erp(
    de_on: tuple[Gateway, str],
) -> None:
    gateway, company = de_on
    body = de_invoice(date.today())
    posted = await post(gateway, body, "k-1")
    assert posted.status_code == 201, posted.text
    invoice_id, document = posted.json()["invoice_id"], posted.json()["posting"]
    invoice = (await gateway.client.get(f"/v1/invoices/{invoice_id}")).json()
    seat = invoice["lines"][0]
    corrected = await gateway.client.post(
        f"/v1/invoices/{invoice_id}/corrections",
        json={
            "reason": "One seat too many",
            "lines": [{"invoice_line_id": seat["id"], "quantity": 1}],
        },
        headers={"Idempotency-Key": "c-1"},
    )
    assert corrected.status_code == 201, corrected.text
    memo = corrected.json()
    assert memo["status"] == "posted", memo
    erp_memo = await gateway.backends.erp.find_sales_credit_memo(company, memo["id"])
    assert erp_memo is not None
    assert (erp_memo.status, erp_memo.applies_to_invoice_id) == (
        ErpDocumentStatus.PAID,
        document["erp_document_id"],
    )
    # one seat of three, and a third of the line's tax, as the ERP taxes it too
    assert (erp_memo.total_excluding_tax, erp_memo.total_tax) == (
        seat["unit_amount"],
        memo["tax_amount"],
    )
    erp_invoice = await gateway.backends.erp.get_sales_invoice(company, document["erp_document_id"])
    assert erp_invoice.remaining_amount == body["total"] - erp_memo.total_including_tax


async def test_a_postings_erp_calls_go_to_the_connection_its_prepare_read(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway(erp_connections=NETSUITE)
    await move_de_to_netsuite(gateway)
    netsuite = gateway.backends.erp_sandboxes["emea"]
    assert isinstance(netsuite, NetSuiteState)
    engine: AsyncEngine = gateway.app.state.process.sessionmaker.kw["bind"]
    lookups: list[str] = []

    def statement(_connection: object, _cursor: object, sql: str, *_: object) -> None:
        if "legal_entities.erp_company_id =" in sql and "erp_connection" in sql:
            lookups.append(sql)

    event.listen(engine.sync_engine, "before_cursor_execute", statement)
    try:
        body = invoice_body(INITECH, currency="EUR", invoice_date=date.today())
        posted = await post(gateway, body, "k-routed")
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", statement)

    assert posted.status_code == 201, posted.text
    assert netsuite.invoice_count(posted.json()["invoice_id"]) == 1
    assert lookups == []  # no read of the entity's connection per ERP call
