"""Customer sync decisions against the port fakes: registration, update, each failure class."""

from __future__ import annotations

import pytest

from core.canonical.parties import CustomerCreate
from core.errors import ErrorClass, PreconditionFailed
from core.models.customer import CustomerRow
from core.models.workflow_run import RunStatus
from process_apis.customers.schemas import CustomerUpdate
from process_apis.customers.workflow import CustomerSyncWorkflow
from process_apis.errors import UnknownReference
from process_apis.runs.schemas import RunState
from system_apis.errors import BackendAuthError, BackendContractError, BackendError, BackendNotFound
from tests.support.fakes.estate import GLOBEX, US, US_COMPANY, Estate
from tests.support.fakes.recorder import FailureKind
from tests.support.fakes.runs import stored_run

NEW = CustomerCreate(name="Hooli", email="ap@hooli.example", legal_entity_id=US, currency="USD")


async def create(estate: Estate, data: CustomerCreate = NEW) -> str:
    resource = await CustomerSyncWorkflow(estate.context).create(
        data, client_id="platform", correlation_id="c-1"
    )
    assert resource.sync is not None
    return resource.sync.run_id


async def test_a_new_customer_reaches_billing_and_the_erp_with_its_cross_references(
    estate: Estate,
) -> None:
    run_id = await create(estate)
    run = await stored_run(estate.sessionmaker, run_id)
    assert run.status == RunStatus.SUCCEEDED
    async with estate.sessionmaker() as session:
        row = await session.get_one(CustomerRow, run.subject_id)
    [billing] = estate.billing.customers.values()
    erp = estate.erp.customers[(US_COMPANY, row.erp_number)]
    assert (row.billing_ref, row.erp_ref) == (billing.id, erp.id)
    assert billing.reference == row.id
    assert run.result == {
        "billing_ref": billing.id,
        "erp_ref": erp.id,
        "erp_company_id": US_COMPANY,
        "erp_number": row.erp_number,
    }


async def test_an_unknown_legal_entity_is_refused_before_any_backend_call(
    estate: Estate,
) -> None:
    with pytest.raises(UnknownReference):
        await create(estate, NEW.model_copy(update={"legal_entity_id": "le_nope"}))
    assert estate.billing.recorder.calls == estate.erp.recorder.calls == []


async def test_a_transient_erp_failure_queues_the_run_and_a_resume_finishes_it(
    estate: Estate,
) -> None:
    estate.erp.recorder.fail("upsert_customer", "transient")
    run_id = await create(estate)
    queued = await stored_run(estate.sessionmaker, run_id)
    assert (queued.status, queued.error_class) == (RunStatus.PENDING_RETRY, ErrorClass.TRANSIENT)

    ref = await CustomerSyncWorkflow(estate.context).resume(run_id)

    assert ref.state == RunState.COMPLETED
    assert (await stored_run(estate.sessionmaker, run_id)).status == RunStatus.SUCCEEDED
    # The billing customer made on the first attempt is brought up to date, not duplicated.
    assert len(estate.billing.customers) == 1
    assert estate.billing.recorder.operations() == ["create_customer", "update_customer"]


@pytest.mark.parametrize(
    ("kind", "error", "error_class"),
    [
        ("contract", BackendContractError, ErrorClass.CONTRACT),
        ("not_found", BackendNotFound, ErrorClass.BUSINESS),
        ("auth", BackendAuthError, ErrorClass.AUTH),
    ],
)
async def test_a_lasting_failure_puts_the_run_in_the_exception_queue(
    estate: Estate, kind: FailureKind, error: type[BackendError], error_class: ErrorClass
) -> None:
    estate.billing.recorder.fail("create_customer", kind)
    with pytest.raises(error) as raised:
        await create(estate)
    run_id = raised.value.extensions["run_id"]
    failed = await stored_run(estate.sessionmaker, run_id)
    assert (failed.status, failed.error_class) == (RunStatus.FAILED, error_class)
    assert estate.erp.recorder.calls == []


async def test_an_update_needs_the_version_the_caller_read_and_syncs_the_change(
    estate: Estate,
) -> None:
    workflow = CustomerSyncWorkflow(estate.context)
    change = CustomerUpdate(name="Globex Corporation")
    with pytest.raises(PreconditionFailed):
        await workflow.update(
            GLOBEX, change, if_match='"7"', client_id="platform", correlation_id=None
        )
    updated = await workflow.update(
        GLOBEX, change, if_match='"1"', client_id="platform", correlation_id=None
    )
    assert updated.name == "Globex Corporation"
    [erp] = estate.erp.customers.values()
    assert erp.display_name == "Globex Corporation"
