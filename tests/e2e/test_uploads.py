"""Slow request bodies: a deadline, no admission slot while uploading, a cap per address.

Bodies are streamed from a generator the test holds open, so "an upload in
progress" is a fact, not a matter of timing.
"""

import asyncio
import json
from collections.abc import AsyncIterator

from tests.conftest import GatewayFactory
from tests.e2e.test_edge_errors import assert_problem
from tests.support.invoices import ACME, invoice_body


class HeldUpload:
    """A JSON body whose first half is sent at once and the rest when `release` is set."""

    def __init__(self, body: dict[str, object]) -> None:
        self.data = json.dumps(body).encode()
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def chunks(self) -> AsyncIterator[bytes]:
        half = len(self.data) // 2
        self.started.set()
        yield self.data[:half]
        await self.release.wait()
        yield self.data[half:]


async def test_a_body_slower_than_its_deadline_is_a_408(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway(request_body_timeout_seconds=0.2)
    upload = HeldUpload(invoice_body())

    response = await gateway.client.post(
        "/v1/invoices", content=upload.chunks(), headers={"content-type": "application/json"}
    )

    body = assert_problem(response, 408, "request-timeout")
    assert "0.2 s" in body["detail"]
    assert response.headers["connection"] == "close"


async def test_an_upload_in_progress_holds_no_admission_slot(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway(max_in_flight=1, rate_limits={"enabled": False})
    invoice_id = (await gateway.client.post("/v1/invoices", json=invoice_body())).json()["id"]
    upload = HeldUpload(invoice_body())
    posting = asyncio.create_task(
        gateway.client.post(
            "/v1/invoices", content=upload.chunks(), headers={"content-type": "application/json"}
        )
    )
    await upload.started.wait()

    read = await gateway.client.get(f"/v1/invoices/{invoice_id}")
    upload.release.set()
    created = await posting

    assert read.status_code == 200, read.text
    assert created.status_code == 201, created.text


async def test_uploads_at_once_from_one_address_are_capped(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway(max_uploads_per_client=1)
    upload = HeldUpload(invoice_body())
    first = asyncio.create_task(
        gateway.client.post(
            "/v1/invoices", content=upload.chunks(), headers={"content-type": "application/json"}
        )
    )
    await upload.started.wait()
    await asyncio.sleep(0.05)  # the first body's reader is waiting for its second half

    second = await gateway.client.post("/v1/invoices", json=invoice_body())
    read = await gateway.client.get(f"/v1/customers/{ACME}")
    upload.release.set()
    created = await first
    after = await gateway.client.post("/v1/invoices", json=invoice_body())

    assert_problem(second, 429, "too-many-uploads")
    assert second.headers["retry-after"] == "1"
    assert read.status_code == 200  # a request without a body is not an upload
    assert created.status_code == 201, created.text
    assert after.status_code == 201, after.text  # the slot came free
