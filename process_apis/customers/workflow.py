"""The customer sync workflow: the canonical customer upserted into billing and the ERP.

prepare (the caller's transaction, with the customer's own change): a `customer_sync`
run is taken. Then, with no transaction open, two steps: the billing customer
(created once, keyed by our id in its metadata and by an idempotency key derived
from our id and the body; a customer that has one already is looked up to prove the
cross-reference) and the ERP customer (upserted by its number in the company of the
customer's legal entity). Each step records its cross-reference (`billing_ref`,
`erp_ref`) as soon as it has it. A transient failure defers the run (202); anything
else fails it into the exception queue.

The billing port creates and reads customers but has no update: a change of name or
email reaches the ERP at once and billing only for customers not yet there.

The steps live in `process_apis.customer_steps`, which the order workflow runs too.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from core.canonical.parties import CustomerCreate
from core.errors import LedgergateError, VersionConflict
from core.models.customer import CustomerRow
from core.models.workflow_run import WorkflowRunRow
from events.outbox import record
from events.schemas.customer import CustomerCreated, CustomerUpdated, customer_event
from process_apis.customer_steps import (
    STEPS,
    CustomerSnapshot,
    snapshot,
    sync_billing_customer,
    upsert_erp_customer,
)
from process_apis.customers import service
from process_apis.customers.schemas import CustomerResource, CustomerUpdate
from process_apis.deps import ProcessContext
from process_apis.lookups import get_customer
from process_apis.runs.engine import Engine
from process_apis.runs.replay import Replay
from process_apis.runs.repository import latest_run
from process_apis.runs.schemas import RunRef
from system_apis.errors import BackendTransientError

WORKFLOW = "customer_sync"


@dataclass(frozen=True)
class SyncPlan:
    run_id: str
    customer: CustomerSnapshot


class CustomerSyncWorkflow:
    def __init__(self, context: ProcessContext) -> None:
        self.context = context
        self.engine = Engine(context.sessionmaker, steps=STEPS, lease=context.settings.run_lease)

    def replays(self) -> dict[str, Replay]:
        return {WORKFLOW: Replay(resume=self.resume, discard=self.discard)}

    async def start(
        self,
        session: AsyncSession,
        customer: CustomerRow,
        *,
        client_id: str | None,
        correlation_id: str | None,
        claimed_run_id: str | None = None,
    ) -> SyncPlan:
        """Take the customer's sync run in the caller's transaction (the caller commits)."""
        run = self.engine.take(
            session,
            await latest_run(session, workflow=WORKFLOW, subject_id=customer.id),
            workflow=WORKFLOW,
            subject_id=customer.id,
            legal_entity_id=customer.legal_entity_id,
            params={"customer_version": customer.version},
            correlation_id=correlation_id,
            client_id=client_id,
            claimed_run_id=claimed_run_id,
        )
        await session.flush()
        return SyncPlan(run_id=run.id, customer=await snapshot(session, customer))

    async def execute(self, plan: SyncPlan) -> RunRef:
        """The two steps; a transient failure queues the run, others fail it and raise."""
        run = self.engine.run(plan.run_id)
        try:
            billing_ref = await sync_billing_customer(self.context, run, plan.customer)
            erp_ref = await upsert_erp_customer(self.context, run, plan.customer)
        except BackendTransientError as error:
            return RunRef.queued(plan.run_id, await self.engine.defer(plan.run_id, error))
        except LedgergateError as error:
            await self.engine.fail(plan.run_id, error)
            error.extensions.setdefault("customer_id", plan.customer.customer_id)
            raise
        await self.engine.succeed(
            plan.run_id,
            {
                "billing_ref": billing_ref,
                "erp_ref": erp_ref,
                "erp_company_id": plan.customer.company_id,
                "erp_number": plan.customer.erp.number,
            },
        )
        return RunRef.completed(plan.run_id)

    async def create(
        self, data: CustomerCreate, *, client_id: str, correlation_id: str | None
    ) -> CustomerResource:
        """Register a customer and sync it; answered with its sync run."""
        async with self.context.sessionmaker.begin() as session:
            customer = await service.create_customer(session, data=data)
            await record(
                session, customer_event(CustomerCreated, customer, correlation_id=correlation_id)
            )
            plan = await self.start(
                session, customer, client_id=client_id, correlation_id=correlation_id
            )
        return await self._synced(plan)

    async def update(
        self,
        customer_id: str,
        data: CustomerUpdate,
        *,
        if_match: str | None,
        client_id: str,
        correlation_id: str | None,
    ) -> CustomerResource:
        """Change a customer (if the caller saw its current version) and sync it."""
        try:
            async with self.context.sessionmaker.begin() as session:
                customer = await service.update_customer(
                    session, customer_id, data=data, if_match=if_match
                )
                await record(
                    session,
                    customer_event(CustomerUpdated, customer, correlation_id=correlation_id),
                )
                plan = await self.start(
                    session, customer, client_id=client_id, correlation_id=correlation_id
                )
        except StaleDataError:
            raise VersionConflict(
                f"customer {customer_id} was changed by another request; read it again"
            ) from None
        return await self._synced(plan)

    async def _synced(self, plan: SyncPlan) -> CustomerResource:
        sync = await self.execute(plan)
        async with self.context.sessionmaker() as session:
            customer = await get_customer(session, plan.customer.customer_id)
        return CustomerResource.model_validate(customer).model_copy(update={"sync": sync})

    async def resume(self, run_id: str) -> RunRef:
        """Run a run claimed from the exception queue once more (replay)."""
        async with self.context.sessionmaker() as session:
            run = await session.get_one(WorkflowRunRow, run_id)
            customer = await session.get_one(CustomerRow, run.subject_id)
            plan = await self.start(
                session,
                customer,
                client_id=run.client_id,
                correlation_id=run.correlation_id,
                claimed_run_id=run_id,
            )
            await session.commit()
        return await self.execute(plan)

    async def discard(self, _session: AsyncSession, _run: WorkflowRunRow) -> None:
        """Nothing to compensate: the customer stays local-only until its next sync.

        A sync writes no financial document; what it created (a billing or ERP
        customer) is a cross-reference already recorded, and the next sync reuses it.
        """
