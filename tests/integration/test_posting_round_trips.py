"""What one synchronous posting on Business Central costs in round trips: the requests
the ERP sandbox served and those to the ERP budget's shared store, counted so a
regression fails.

A registered invoice of a customer the ERP already holds, with the company's tax groups
cached (the steady state of a billing run). The gateway's first attempt sends one
`$batch`: the draft with its lines (a deep insert), its post and the read of the posted
document (BC answers the post with `204`: its number took a request of its own once).
Its three operations take one slot of the ERP budget, in one round trip.
"""

from system_apis.budget import ErpBudget
from tests.conftest import GatewayFactory
from tests.integration.test_invoice_posting import post, register
from tests.support.budget_stores import CountingStore
from tests.support.invoices import invoice_body

ERP_REQUESTS = 1  # 4 while the posted number was read back on its own, 3 while a line was a
# request of its own, 2 while the draft was created before its post's `$batch`
BUDGET_ROUND_TRIPS = 1  # 3 while each request took its own slot, 8 before releases rode


async def test_a_posting_makes_one_erp_request_and_one_budget_round_trip(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway()
    warm = await post(gateway, await register(gateway), "warm-up")  # customer and tax groups
    assert warm.status_code == 201, warm.text
    invoice_id = await register(gateway, invoice_body())  # two lines
    budget = gateway.backends.clients["erp"].budget
    assert isinstance(budget, ErpBudget)
    await budget.flush_releases()  # the warm-up's
    store = CountingStore(budget.store)
    budget.store = store
    budget.release_delay_seconds = 3600  # a loaded host's pauses must not free them alone
    served = gateway.backends.faults["erp"]
    before = served.requests

    response = await post(gateway, invoice_id, "counted")

    assert response.status_code == 201, response.text
    assert response.json()["posting"]["erp_document_number"].startswith("PS-INV")
    assert served.requests - before == ERP_REQUESTS
    assert dict(store.calls) == {"acquire": BUDGET_ROUND_TRIPS}
    assert budget.pending_releases == 1  # the posting's slot, for the next acquire
    await budget.flush_releases()
    assert store.calls["release"] == 1
