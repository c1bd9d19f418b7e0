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

The order workflow reuses the two steps for the customer of a new subscription.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import LedgergateError
from core.models.customer import CustomerRow
from core.models.legal_entity import LegalEntityRow
from core.models.workflow_run import WorkflowRunRow
from process_apis.customers.runs import RunRef, RunState, fail_run, run_url, save_refs, take_run
from process_apis.deps import ProcessContext
from process_apis.engine import Engine, digest
from system_apis.billing.schemas import BillingCustomerCreate, BillingCustomerUpdate
from system_apis.erp.schemas import ErpCustomerUpsert
from system_apis.errors import BackendTransientError

WORKFLOW = "customer_sync"


@dataclass(frozen=True)
class CustomerSnapshot:
    """The customer as the backends should hold it, taken in a transaction."""

    customer_id: str
    company_id: str
    billing_ref: str | None
    billing: BillingCustomerCreate
    erp: ErpCustomerUpsert


async def snapshot(session: AsyncSession, customer: CustomerRow) -> CustomerSnapshot:
    legal_entity = await session.get_one(LegalEntityRow, customer.legal_entity_id)
    return CustomerSnapshot(
        customer_id=customer.id,
        company_id=legal_entity.erp_company_id,
        billing_ref=customer.billing_ref,
        billing=BillingCustomerCreate(
            reference=customer.id,
            name=customer.name,
            email=customer.email,
            currency=customer.currency,
        ),
        erp=ErpCustomerUpsert(
            number=customer.erp_number,
            display_name=customer.name[:100],
            email=customer.email[:80],
            currency=customer.currency,
        ),
    )


def billing_key(kind: str, object_id: str, body: object) -> str:
    """An idempotency key for creating our object in billing: our id and the body's digest.

    The same object with the same body is one billing object however often a run is
    replayed; a changed body is a new request rather than a refused key reuse.
    """
    return f"ledgergate:{kind}:{object_id}:{digest(body)[:16]}"


async def sync_billing_customer(
    context: ProcessContext, engine: Engine, run_id: str, sequence: int, customer: CustomerSnapshot
) -> str:
    """The billing customer's id: brought up to date when we hold one, created otherwise."""
    billing = context.billing
    if customer.billing_ref is not None:
        ref = customer.billing_ref
        update = BillingCustomerUpdate(name=customer.billing.name, email=customer.billing.email)
        key = billing_key("customer-update", customer.customer_id, update)
        updated = await engine.step(
            run_id,
            "update_billing_customer",
            sequence,
            lambda: billing.update_customer(ref, update, idempotency_key=key),
            request={"billing_customer_id": ref, **update.model_dump()},
            downstream_key=key,
            backend_ref=lambda updated: updated.id,
        )
        return updated.id
    key = billing_key("customer", customer.customer_id, customer.billing)
    created = await engine.step(
        run_id,
        "create_billing_customer",
        sequence,
        lambda: billing.create_customer(customer.billing, idempotency_key=key),
        request=customer.billing,
        downstream_key=key,
        backend_ref=lambda created: created.id,
    )
    await save_refs(context.sessionmaker, CustomerRow, customer.customer_id, billing_ref=created.id)
    return created.id


async def upsert_erp_customer(
    context: ProcessContext, engine: Engine, run_id: str, sequence: int, customer: CustomerSnapshot
) -> str:
    """The ERP customer's id, upserted by number in the legal entity's company."""
    erp = context.erp
    upserted = await engine.step(
        run_id,
        "upsert_erp_customer",
        sequence,
        lambda: erp.upsert_customer(customer.company_id, customer.erp),
        request=customer.erp,
        downstream_key=customer.erp.number,
        backend_ref=lambda upserted: upserted.id,
    )
    await save_refs(context.sessionmaker, CustomerRow, customer.customer_id, erp_ref=upserted.id)
    return upserted.id


@dataclass(frozen=True)
class SyncPlan:
    run_id: str
    customer: CustomerSnapshot


class CustomerSyncWorkflow:
    def __init__(self, context: ProcessContext) -> None:
        self.context = context
        self.engine = Engine(context.sessionmaker)

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
        run = await take_run(
            session,
            workflow=WORKFLOW,
            subject_id=customer.id,
            params={"customer_version": customer.version},
            correlation_id=correlation_id,
            client_id=client_id,
            claimed_run_id=claimed_run_id,
        )
        await session.flush()
        return SyncPlan(run_id=run.id, customer=await snapshot(session, customer))

    async def execute(self, plan: SyncPlan) -> RunRef:
        """The two steps; a transient failure queues the run, others fail it and raise."""
        try:
            billing_ref = await sync_billing_customer(
                self.context, self.engine, plan.run_id, 1, plan.customer
            )
            erp_ref = await upsert_erp_customer(
                self.context, self.engine, plan.run_id, 2, plan.customer
            )
        except BackendTransientError as error:
            retry_at = await self.engine.defer(plan.run_id, error)
            return RunRef(
                state=RunState.PENDING_RETRY,
                run_id=plan.run_id,
                run_url=run_url(plan.run_id),
                retry_at=retry_at,
            )
        except LedgergateError as error:
            await fail_run(self.context.sessionmaker, plan.run_id, error)
            error.extensions.setdefault("customer_id", plan.customer.customer_id)
            raise
        async with self.context.sessionmaker.begin() as session:
            run = await session.get_one(WorkflowRunRow, plan.run_id)
            Engine.mark_succeeded(
                run,
                {
                    "billing_ref": billing_ref,
                    "erp_ref": erp_ref,
                    "erp_company_id": plan.customer.company_id,
                    "erp_number": plan.customer.erp.number,
                },
            )
        return RunRef(state=RunState.COMPLETED, run_id=plan.run_id, run_url=run_url(plan.run_id))

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
