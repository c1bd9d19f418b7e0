"""The fault storm: 500 ERP postings while the ERP fails 30 % of its requests.

The Business Central sandbox answers 20 % of requests with a 5xx (not handled) and
holds the answer of another 10 % past the client's 0.2 s read timeout (handled, the
answer lost). Each posting is `create_sales_invoice` then `post_sales_invoice` for
its own external document number, and its caller retries the whole posting when it
fails transiently, up to a bound, as the process tier's retry does. The adapter's
lookup-before-write is what keeps a retried posting from writing twice.

Done means: every posting is either posted exactly once or ended with a classified
`BackendError` (reported by class), the sandbox ledger holds at most one document
per external number, and nothing escapes as an unhandled exception. The postings
run 50 at a time over the in-process transport, which keeps the read timeout a
socket would, so the storm takes seconds.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from prometheus_client import REGISTRY

from core.errors import ErrorClass
from core.settings import ErpSettings
from sandboxes.business_central import BusinessCentralState, create_app
from sandboxes.faults import FaultConfig
from sandboxes.limits import LimitConfig
from system_apis.erp.adapters.business_central import BusinessCentralAdapter
from system_apis.erp.schemas import ErpCustomerUpsert, ErpDocumentStatus, ErpSalesInvoice
from system_apis.errors import BackendError, BackendTransientError
from system_apis.http import InProcessTransport, ResilientClient
from tests.support.business_central import BC_BASE_URL, US, invoice_request

POSTINGS = 500
CONCURRENCY = 50
CALLER_ATTEMPTS = 12
BACKOFF_SECONDS = 0.01
MAX_BACKOFF_SECONDS = 0.4
STORM = FaultConfig(seed=1729, error_rate=0.2, timeout_rate=0.1, timeout_seconds=5)
SETTINGS = ErpSettings(
    read_timeout_seconds=0.2,
    retry_attempts=3,
    retry_initial_backoff_seconds=0.001,
    retry_max_backoff_seconds=0.01,
    retry_budget_seconds=1.0,
    circuit_failure_threshold=8,
    circuit_reset_seconds=0.05,
)
BACKEND = "erp-storm"
EXPECTED_TOTAL = Decimal("143.53")  # 2 x 19.99 + 8.875 % tax + 100.00 exempt


@dataclass(frozen=True)
class Outcome:
    number: str
    attempts: int
    posted: ErpSalesInvoice | None = None
    error: BackendError | None = None


async def post(adapter: BusinessCentralAdapter, number: str) -> Outcome:
    """One posting as the process tier makes it: transient failures retried with
    exponential backoff (at least the `Retry-After` or circuit pause), to a bound."""
    error: BackendError | None = None
    for attempt in range(1, CALLER_ATTEMPTS + 1):
        try:
            draft = await adapter.create_sales_invoice(US.id, invoice_request(number))
            posted = await adapter.post_sales_invoice(US.id, draft.id)
            return Outcome(number, attempt, posted=posted)
        except BackendTransientError as transient:
            error = transient
            backoff = min(BACKOFF_SECONDS * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS)
            await asyncio.sleep(max(backoff, transient.retry_after or 0.0))
        except BackendError as refused:
            return Outcome(number, attempt, error=refused)
    return Outcome(number, CALLER_ATTEMPTS, error=error)


async def test_a_burst_of_postings_through_a_failing_erp_posts_each_at_most_once() -> None:
    state = BusinessCentralState()
    app = create_app(state)
    client = ResilientClient(
        backend=BACKEND,
        base_url=BC_BASE_URL,
        settings=SETTINGS,
        headers={"Authorization": "Bearer sandbox-token"},
        transport=InProcessTransport(app=app),
    )
    adapter = BusinessCentralAdapter(client)
    await adapter.upsert_customer(
        US.id, ErpCustomerUpsert(number="C0001", display_name="Acme Corp", currency="USD")
    )
    retries_before = REGISTRY.get_sample_value(
        "ledgergate_backend_retries_total",
        {"backend": BACKEND, "operation": "create_sales_invoice"},
    )
    app.state.faults.configure(STORM)
    # Faults, not the vendor's window: the storm's ~6,000 operations would fill Business
    # Central's 5-minute window, and the callers here take no ERP budget to pace them.
    app.state.limits.configure(LimitConfig(requests_per_window=None))

    numbers = [f"STORM-{i:04d}" for i in range(POSTINGS)]
    gate = asyncio.Semaphore(CONCURRENCY)

    async def guarded(number: str) -> Outcome:
        async with gate:
            return await post(adapter, number)

    try:
        results = await asyncio.gather(*(guarded(n) for n in numbers), return_exceptions=True)
    finally:
        await client.aclose()

    unhandled = [r for r in results if not isinstance(r, Outcome)]
    assert unhandled == [], f"unhandled exceptions: {unhandled[:5]}"
    outcomes = [r for r in results if isinstance(r, Outcome)]
    duplicates = {n: c for n in numbers if (c := state.document_count(US.id, n)) > 1}
    assert duplicates == {}

    ledger = {i.external_document_number: i for i in state.books[US.id].invoices.values()}
    posted = [o for o in outcomes if o.posted is not None]
    for outcome in posted:
        assert outcome.posted is not None
        assert outcome.posted.status == ErpDocumentStatus.POSTED
        document = ledger[outcome.number]
        assert (document.status, len(document.lines)) == ("Open", 2), outcome.number
        assert document.total_including_tax == EXPECTED_TOTAL

    failed = [o for o in outcomes if o.error is not None]
    report = Counter(f"{o.error.error_class.value}/{o.error.slug}" for o in failed if o.error)
    assert all(o.error.error_class in ErrorClass for o in failed if o.error), report
    assert len(posted) + len(failed) == POSTINGS
    assert len(posted) >= 0.95 * POSTINGS, f"{len(posted)} posted; failures: {report}"

    injected = app.state.faults.injected
    assert injected["error"] > 0.15 * app.state.faults.requests, injected
    assert injected["timeout"] > 0.05 * app.state.faults.requests, injected
    assert sum(o.attempts > 1 for o in outcomes) > 0.3 * POSTINGS  # the storm was felt
    retries_after = REGISTRY.get_sample_value(
        "ledgergate_backend_retries_total",
        {"backend": BACKEND, "operation": "create_sales_invoice"},
    )
    assert (retries_after or 0) > (retries_before or 0)
