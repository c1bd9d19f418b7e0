"""A retried run carries the correlation id of the request that started it."""

import logging
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update

from core.context import correlation_id
from core.models.base import utcnow
from core.models.workflow_run import WorkflowRunRow
from process_apis.worker import replayer
from tests.conftest import GatewayFactory
from tests.support.faults import SwitchableTransport
from tests.support.invoices import invoice_body
from tests.support.recording import RecordingTransport

ORIGINAL = "corr-original-42"


class CorrelationLog(logging.Handler):
    """Each record's message with the correlation id current when it was logged."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[tuple[str, str | None]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.getMessage(), correlation_id.get()))


@pytest.fixture
def process_log() -> Iterator[CorrelationLog]:
    handler = CorrelationLog()
    logger = logging.getLogger("process_apis")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)


async def test_a_retried_posting_carries_its_original_correlation_id(
    make_gateway: GatewayFactory, process_log: CorrelationLog
) -> None:
    switches: list[SwitchableTransport] = []
    recordings: list[RecordingTransport] = []

    def wrap(name: str, inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        if name != "erp":
            return inner
        switches.append(SwitchableTransport(inner))
        recordings.append(RecordingTransport(switches[-1]))
        return recordings[-1]

    gateway = await make_gateway(wrap=wrap)
    [switch], [erp] = switches, recordings
    invoice_id = (await gateway.client.post("/v1/invoices", json=invoice_body())).json()["id"]
    switch.down = True
    queued = await gateway.client.post(
        f"/v1/invoices/{invoice_id}/postings",
        json={},
        headers={"Idempotency-Key": "corr", "X-Correlation-ID": ORIGINAL},
    )
    assert queued.status_code == 202, queued.text
    switch.down = False
    async with gateway.sessionmaker.begin() as session:
        await session.execute(
            update(WorkflowRunRow)
            .where(WorkflowRunRow.id == queued.json()["run_id"])
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )
    erp.exchanges.clear()
    process_log.lines.clear()
    assert (await replayer(gateway.app.state.process).run_once()).claimed == 1
    sent = {exchange.request.headers.get("x-correlation-id") for exchange in erp.exchanges}
    assert erp.exchanges
    assert sent == {ORIGINAL}
    runs = [cid for message, cid in process_log.lines if message.startswith("workflow.run")]
    assert runs == [ORIGINAL]
