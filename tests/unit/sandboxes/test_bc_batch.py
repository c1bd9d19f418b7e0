"""The Business Central sandbox's JSON `$batch`: operations handled in order, references
to what an earlier one created, `dependsOn`, and the batch counted in the limits as one
request, or as its operations where the connection says BC counts them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sandboxes import business_central
from sandboxes.demo_estate import DEMO_COMPANIES, first_open_day
from sandboxes.faults import FaultConfig, FaultInjector
from sandboxes.limits import LimitConfig, VendorLimiter

ROOT = "/v2.0/sandbox/api/v1.0"
AUTH = {"Authorization": "Bearer sandbox-token"}
US = DEMO_COMPANIES[0]


@pytest.fixture
async def bc() -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    app = business_central.create_app()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://erp.test", headers=AUTH
    ) as client:
        customer = {"number": "C1", "displayName": "Acme", "currencyCode": "USD"}
        created = await client.post(f"{ROOT}/companies({US.id})/customers", json=customer)
        assert created.status_code == 201, created.text
        yield client, app


def document(index: int, tax_code: str = "STANDARD") -> list[dict[str, Any]]:
    day = first_open_day().isoformat()
    line = {
        "sequence": 1,
        "description": "Seat",
        "quantity": 2,
        "unitPrice": 10,
        "taxCode": tax_code,
    }
    body = {
        "externalDocumentNumber": f"EXT-{index}",
        "customerNumber": "C1",
        "currencyCode": "USD",
        "invoiceDate": day,
        "dueDate": day,
        "salesInvoiceLines": [line],
    }
    return [
        {
            "id": f"c{index}",
            "method": "POST",
            "url": f"companies({US.id})/salesInvoices",
            "body": body,
        },
        {
            "id": f"p{index}",
            "method": "POST",
            "url": f"$c{index}/Microsoft.NAV.post",
            "dependsOn": [f"c{index}"],
        },
        {
            "id": f"g{index}",
            "method": "GET",
            "url": f"$c{index}?$expand=salesInvoiceLines",
            "dependsOn": [f"p{index}"],
        },
    ]


async def test_a_batch_creates_with_lines_posts_and_reads_each_document(bc: Any) -> None:
    client, app = bc
    requests = document(1) + document(2, tax_code="UNKNOWN")

    answer = await client.post(f"{ROOT}/$batch", json={"requests": requests})

    assert answer.status_code == 200, answer.text
    statuses = {r["id"]: r["status"] for r in answer.json()["responses"]}
    assert statuses == {"c1": 201, "p1": 204, "g1": 200, "c2": 400, "p2": 424, "g2": 424}
    posted = answer.json()["responses"][2]["body"]
    assert posted["status"] == "Open"
    assert posted["totalAmountExcludingTax"] == 20
    assert len(posted["salesInvoiceLines"]) == 1
    books = app.state.business_central
    assert (books.document_count(US.id, "EXT-1"), books.document_count(US.id, "EXT-2")) == (1, 0)
    limiter: VendorLimiter = app.state.limits
    assert (limiter.served, limiter.batches) == (1 + 6, 1)  # the customer, then 6 operations


async def test_a_batch_counts_as_one_request_of_the_window(bc: Any) -> None:
    client, app = bc
    limiter: VendorLimiter = app.state.limits
    limiter.configure(LimitConfig(requests_per_window=2, window_seconds=60))
    for index in (1, 2):  # six operations each, one request each
        answer = await client.post(f"{ROOT}/$batch", json={"requests": document(index)})
        assert answer.status_code == 200, answer.text
    refused = await client.post(f"{ROOT}/$batch", json={"requests": document(3)})
    assert refused.status_code == 429
    assert (limiter.served, limiter.batches, limiter.peak_in_window) == (6, 2, 2)


async def test_a_batch_counted_by_operation_that_does_not_fit_is_refused_whole(bc: Any) -> None:
    client, app = bc
    app.state.limits.configure(
        LimitConfig(requests_per_window=5, window_seconds=60, batch_counted_as="operations")
    )
    refused = await client.post(f"{ROOT}/$batch", json={"requests": document(1) + document(2)})
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert app.state.business_central.document_count(US.id, "EXT-1") == 0
    accepted = await client.post(f"{ROOT}/$batch", json={"requests": document(1)})
    assert accepted.status_code == 200


async def test_more_than_a_hundred_operations_are_refused(bc: Any) -> None:
    client, _ = bc
    requests = [op for index in range(34) for op in document(index)]  # 102 operations
    refused = await client.post(f"{ROOT}/$batch", json={"requests": requests})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "BadRequest"


async def test_fault_injection_fails_single_operations(bc: Any) -> None:
    client, app = bc
    injector: FaultInjector = app.state.faults
    requests = [op for index in range(20) for op in document(index)]
    injector.configure(FaultConfig(error_rate=0.2, seed=3))
    injector.draw = lambda: FaultInjector().draw()  # type: ignore[method-assign]  # spare the batch
    answer = await client.post(f"{ROOT}/$batch", json={"requests": requests})
    statuses = [r["status"] for r in answer.json()["responses"]]
    assert any(status >= 500 for status in statuses)
    assert statuses.count(200) >= 1
    assert injector.injected["operation_error"] == sum(status >= 500 for status in statuses)
