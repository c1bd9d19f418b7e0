"""A posting reads its legal entity as it is now: each part of it a posting uses (the
closed-period policy, the periods, the tax-code mappings), changed through each path that
can change it (the ops API, or an operator's SQL that no code of ours sees), governs the
very next posting of the same process."""

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from app.seed import demo_id
from core.errors import PROBLEM_BASE_URI
from tests.conftest import Gateway
from tests.support.invoices import invoice_body, last_month

ENTITY = demo_id("legal_entity", 1)
ENTITY_URL = f"/ops/v1/legal-entities/{ENTITY}"


async def post(gateway: Gateway, day: date, key: str) -> httpx.Response:
    invoice = await gateway.client.post("/v1/invoices", json=invoice_body(invoice_date=day))
    assert invoice.status_code == 201, invoice.text
    return await gateway.client.post(
        f"/v1/invoices/{invoice.json()['id']}/postings", json={}, headers={"Idempotency-Key": key}
    )


async def by_sql(gateway: Gateway, statement: str, **params: Any) -> None:
    """An operator's change in the database: no ORM, no version of ours moved."""
    async with gateway.sessionmaker.begin() as session:
        await (await session.connection()).execute(text(statement), params)


async def ops(gateway: Gateway) -> httpx.AsyncClient:
    return await gateway.client_with(["refdata:read", "refdata:write"], client_id="finance-ops")


async def current_period_id(gateway: Gateway) -> str:
    client = await ops(gateway)
    entity = (await client.get(ENTITY_URL)).json()
    await client.aclose()
    today = str(date.today())
    return next(p["id"] for p in entity["periods"] if p["starts_on"] <= today <= p["ends_on"])


async def roll_forward_by_api(gateway: Gateway) -> None:
    client = await ops(gateway)
    changed = await client.patch(
        ENTITY_URL, json={"closed_period_policy": "roll_forward"}, headers={"If-Match": "*"}
    )
    assert changed.status_code == 200, changed.text
    await client.aclose()


async def roll_forward_by_sql(gateway: Gateway) -> None:
    await by_sql(
        gateway,
        "UPDATE legal_entities SET closed_period_policy = 'roll_forward' WHERE id = :id",
        id=ENTITY,
    )


async def close_by_api(gateway: Gateway) -> None:
    client = await ops(gateway)
    closed = await client.post(
        f"{ENTITY_URL}/periods/{await current_period_id(gateway)}/close",
        json={"reason": "month end"},
        headers={"If-Match": "*"},
    )
    assert closed.status_code == 200, closed.text
    await client.aclose()


async def close_by_sql(gateway: Gateway) -> None:
    await by_sql(
        gateway,
        "UPDATE accounting_periods SET status = 'closed' WHERE id = :id",
        id=await current_period_id(gateway),
    )


async def map_by_api(gateway: Gateway) -> None:
    client = await ops(gateway)
    mapped = await client.put(
        f"{ENTITY_URL}/tax-codes/STANDARD",
        json={"erp_tax_code": "NO-SUCH-GROUP"},
        headers={"If-Match": "*"},
    )
    assert mapped.status_code == 200, mapped.text
    await client.aclose()


async def map_by_sql(gateway: Gateway) -> None:
    await by_sql(
        gateway,
        "INSERT INTO tax_code_mappings (id, legal_entity_id, tax_code, erp_tax_code) "
        "VALUES ('tcm_by_hand', :id, 'STANDARD', 'NO-SUCH-GROUP')",
        id=ENTITY,
    )


Change = Callable[[Gateway], Awaitable[None]]
# (change, the day posted, the answer before it, the answer after it)
CHANGES: dict[str, tuple[Change, Callable[[], date], str, str]] = {
    "policy-api": (roll_forward_by_api, last_month, "closed-period", "posted"),
    "policy-sql": (roll_forward_by_sql, last_month, "closed-period", "posted"),
    "period-api": (close_by_api, date.today, "posted", "closed-period"),
    "period-sql": (close_by_sql, date.today, "posted", "closed-period"),
    "tax-code-api": (map_by_api, date.today, "posted", "unknown-tax-code"),
    "tax-code-sql": (map_by_sql, date.today, "posted", "unknown-tax-code"),
}


def answer(response: httpx.Response) -> str:
    if response.status_code == 201:
        return "posted"
    assert response.status_code == 422, response.text
    return response.json()["type"].removeprefix(PROBLEM_BASE_URI)


@pytest.mark.parametrize("name", CHANGES)
async def test_the_next_posting_sees_each_change_of_its_legal_entity(
    gateway: Gateway, name: str
) -> None:
    change, day, before, after = CHANGES[name]
    # Postings first, so whatever the process keeps of the entity is there.
    for attempt in range(2):
        assert answer(await post(gateway, day(), f"before-{attempt}")) == before
    await change(gateway)
    assert answer(await post(gateway, day(), "after")) == after
