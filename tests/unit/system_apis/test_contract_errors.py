"""A malformed or schema-violating answer is a contract error in every adapter operation.

Each operation of both adapters meets each garbage body the sandboxes' `malformed`
fault sends, as a 2xx; none may escape as anything but `BackendContractError`.
"""

from collections.abc import Awaitable, Callable

import httpx
import pytest

from core.settings import BackendSettings, BillingSettings
from sandboxes.faults import MALFORMED_BODIES
from system_apis.billing.adapters.stripe import StripeAdapter, stripe_headers
from system_apis.billing.schemas import BillingCustomerCreate
from system_apis.erp.adapters.business_central import BusinessCentralAdapter
from system_apis.erp.schemas import ErpCustomerUpsert
from system_apis.errors import BackendContractError
from system_apis.http import ResilientClient
from tests.support.business_central import US, invoice_request

Operation = Callable[[httpx.AsyncBaseTransport], Awaitable[object]]


def client(transport: httpx.AsyncBaseTransport, backend: str) -> ResilientClient:
    settings = BillingSettings() if backend == "billing" else BackendSettings()
    headers = stripe_headers(settings) if isinstance(settings, BillingSettings) else None
    return ResilientClient(
        backend=backend,
        base_url="http://backend.test",
        settings=settings,
        headers=headers,
        transport=transport,
    )


def bc(transport: httpx.AsyncBaseTransport) -> BusinessCentralAdapter:
    return BusinessCentralAdapter(client(transport, "erp"))


def billing(transport: httpx.AsyncBaseTransport) -> StripeAdapter:
    return StripeAdapter(client(transport, "billing"))


CUSTOMER = ErpCustomerUpsert(number="C0001", display_name="Acme", currency="USD")
OPERATIONS: dict[str, Operation] = {
    "bc.get_company": lambda t: bc(t).get_company(US.id),
    "bc.list_tax_codes": lambda t: bc(t).list_tax_codes(US.id),
    "bc.upsert_customer": lambda t: bc(t).upsert_customer(US.id, CUSTOMER),
    "bc.find_sales_invoice": lambda t: bc(t).find_sales_invoice(US.id, "INV-1"),
    "bc.create_sales_invoice": lambda t: bc(t).create_sales_invoice(
        US.id, invoice_request("INV-1")
    ),
    "bc.post_sales_invoice": lambda t: bc(t).post_sales_invoice(US.id, "some-id"),
    "stripe.create_customer": lambda t: billing(t).create_customer(
        BillingCustomerCreate(reference="cus_01", name="Acme", currency="usd"),
        idempotency_key="k1",
    ),
    "stripe.get_customer": lambda t: billing(t).get_customer("cus_1"),
    "stripe.get_invoice": lambda t: billing(t).get_invoice("in_1"),
    "stripe.list_invoices": lambda t: billing(t).list_invoices(customer_id="cus_1"),
}


@pytest.mark.parametrize("body", MALFORMED_BODIES)
@pytest.mark.parametrize("operation", OPERATIONS)
async def test_garbage_with_a_2xx_is_a_contract_error(operation: str, body: bytes) -> None:
    transport = httpx.MockTransport(lambda _request: httpx.Response(200, content=body))
    with pytest.raises(BackendContractError) as raised:
        await OPERATIONS[operation](transport)
    assert raised.value.error_class == "contract"
    assert raised.value.vendor_status == 200
