"""Both adapters against their sandboxes running as separate processes, over real sockets.

The rest of the suite calls the sandboxes in process; here the same adapters go
through TCP, uvicorn and the clients' pooled transport (`system_apis.keepalive`), once
in the normal case and once with an answer cut off on the wire by the sandbox's fault
injection (a dropped connection after the write happened). The scenarios are representative, not the
adapter suites again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from core.settings import BackendSettings, BillingSettings, ErpSettings
from sandboxes.faults import Fault, FaultConfig, FaultInjector
from system_apis.billing.adapters.stripe import StripeAdapter, stripe_headers
from system_apis.billing.schemas import BillingCustomerCreate
from system_apis.erp.adapters.business_central import BusinessCentralAdapter
from system_apis.erp.schemas import ErpCustomerUpsert, ErpDocumentStatus
from system_apis.errors import BackendTimeout, BackendTransientError
from system_apis.http import ResilientClient
from tests.support.business_central import US, invoice_request
from tests.support.sandbox_processes import SandboxProcess, sandbox_process

FAST = {
    "retry_initial_backoff_seconds": 0.0,
    "retry_max_backoff_seconds": 0.0,
    "read_timeout_seconds": 2.0,
}
BOOT_FAULTS = FaultConfig(seed=11, latency_rate=0.5, latency_seconds=0.001)
"""What the billing sandbox process is started with, through its environment."""


def seed_for(config: FaultConfig, faults: list[Fault | None]) -> FaultConfig:
    """`config` with a seed whose first draws are exactly `faults`, in that order."""
    for seed in range(10_000):
        candidate = config.model_copy(update={"seed": seed})
        injector = FaultInjector(candidate)
        if [injector.draw().fault for _ in faults] == faults:
            return candidate
    raise AssertionError(f"no seed draws {faults}")


@pytest.fixture(scope="module")
def erp_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    log = tmp_path_factory.mktemp("sandboxes") / "erp.log"
    with sandbox_process("erp", log=log) as process:
        yield process


@pytest.fixture(scope="module")
def billing_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    log = tmp_path_factory.mktemp("sandboxes") / "billing.log"
    with sandbox_process("billing", faults=BOOT_FAULTS, log=log) as process:
        yield process


def client_for(
    process: SandboxProcess, settings: BackendSettings, headers: dict[str, str] | None = None
) -> ResilientClient:
    process.set_faults(FaultConfig())
    return ResilientClient(
        backend=process.backend, base_url=process.api_root, settings=settings, headers=headers
    )


@pytest.fixture
async def erp(erp_process: SandboxProcess) -> AsyncIterator[BusinessCentralAdapter]:
    client = client_for(erp_process, ErpSettings(**FAST), {"Authorization": "Bearer sandbox-token"})
    yield BusinessCentralAdapter(client)
    await client.aclose()


@pytest.fixture
async def billing(billing_process: SandboxProcess) -> AsyncIterator[StripeAdapter]:
    settings = BillingSettings(api_key="sk_test_ledgergate", **FAST)
    client = client_for(billing_process, settings, stripe_headers(settings))
    yield StripeAdapter(client)
    await client.aclose()


async def test_bc_posts_an_invoice_over_http(erp: BusinessCentralAdapter) -> None:
    customer = await erp.upsert_customer(
        US.id, ErpCustomerUpsert(number="C0001", display_name="Acme Corp", currency="USD")
    )
    draft = await erp.create_sales_invoice(US.id, invoice_request("HTTP-0001"))
    posted = await erp.post_sales_invoice(US.id, draft.id)

    assert customer.number == "C0001"
    assert (draft.status, draft.line_count) == (ErpDocumentStatus.DRAFT, 2)
    assert posted.status == ErpDocumentStatus.POSTED
    assert posted.total_including_tax == 2 * 1999 + 10000 + 355  # 8.875 % on the taxed line
    assert await erp.find_sales_invoice(US.id, "HTTP-0001") == posted


async def test_bc_create_whose_answer_was_cut_is_completed_not_duplicated(
    erp: BusinessCentralAdapter, erp_process: SandboxProcess
) -> None:
    # the lookup passes, the header POST is handled and its connection dropped
    erp_process.set_faults(seed_for(FaultConfig(drop_rate=0.5), [None, Fault.DROP]))
    with pytest.raises(BackendTransientError) as raised:
        await erp.create_sales_invoice(US.id, invoice_request("HTTP-0002"))
    assert not isinstance(raised.value, BackendTimeout)
    assert erp_process.faults()["injected"] == {"drop": 1}

    erp_process.set_faults(FaultConfig())
    draft = await erp.create_sales_invoice(US.id, invoice_request("HTTP-0002"))
    posted = await erp.post_sales_invoice(US.id, draft.id)

    assert (posted.status, posted.line_count) == (ErpDocumentStatus.POSTED, 2)
    # the adapter's lookup refuses a second document with one number: one is there
    assert await erp.find_sales_invoice(US.id, "HTTP-0002") == posted


async def test_bc_answer_held_past_the_read_timeout_is_a_timeout(
    erp_process: SandboxProcess,
) -> None:
    settings = ErpSettings(**{**FAST, "read_timeout_seconds": 0.2, "retry_attempts": 1})
    client = client_for(erp_process, settings, {"Authorization": "Bearer sandbox-token"})
    erp_process.set_faults(FaultConfig(timeout_rate=1, timeout_seconds=1))
    try:
        with pytest.raises(BackendTimeout):
            await BusinessCentralAdapter(client).get_company(US.id)
    finally:
        erp_process.set_faults(FaultConfig())
        await client.aclose()


async def test_stripe_customer_created_once_though_the_first_answer_was_cut(
    billing: StripeAdapter, billing_process: SandboxProcess
) -> None:
    billing_process.set_faults(seed_for(FaultConfig(drop_rate=0.5), [Fault.DROP, None]))
    created = await billing.create_customer(
        BillingCustomerCreate(reference="cus_01http", name="Acme Ltd", currency="usd"),
        idempotency_key="http-create-1",
    )
    assert billing_process.faults()["injected"] == {"drop": 1}
    billing_process.set_faults(FaultConfig())

    assert await billing.get_customer(created.id) == created
    assert created.reference == "cus_01http"
    page = await billing.list_invoices(customer_id=created.id)
    assert page.invoices == ()


def test_a_sandbox_process_takes_its_faults_from_the_environment(
    billing_process: SandboxProcess,
) -> None:
    assert billing_process.initial_faults["config"] == BOOT_FAULTS.model_dump(mode="json")
