"""The quote → ERP sales order workflow (`sales_order` runs).

prepare (one transaction): the customer must be active; each line's price active, flat,
in the customer's currency, and its product mapped to an ERP item; the order is saved
`pending` with its lines and a run. Then, with no transaction open, the steps:

1. the ERP customer upserted by number in the legal entity's company;
2. its credit in the ERP: blocked, or its balance plus the order's net amount over its
   credit limit, is refused (`customer-credit-refused`, the order `rejected`) or held
   (`customer-credit-held`, the order `held` in the exception queue) by
   `LEDGERGATE_ORDER_CREDIT_POLICY`;
3. the sales order created in the ERP, keyed by the order's id (its external document
   number), one item line per order line.

Finally the order is `open` (or `released`) with the ERP's order, if the ERP priced it
at our net amount (else `erp-order-amount-mismatch`, in the queue); when its service
starts today or earlier, its subscriptions are ordered in the same transaction
(`handover`). A transient failure queues the run (202, the order `pending`); a replay
resumes it, and every step finds what an earlier attempt did. Discarding a run rejects
the order if the ERP never got it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.canonical.orders import SALES_ORDER_STATUS, SalesOrderStatus
from core.canonical.parties import CustomerStatus
from core.errors import LedgergateError
from core.ids import new_id
from core.models.base import utcnow
from core.models.customer import CustomerRow
from core.models.partner import PartnerRow
from core.models.price import PriceRow
from core.models.product import ProductRow
from core.models.sales_order import SalesOrderLineRow, SalesOrderRow
from core.models.workflow_run import RunStatus, StepStatus, WorkflowRunRow, WorkflowStepRow
from events.outbox import record
from events.schemas.order import (
    OrderCreated,
    OrderHeld,
    OrderRejected,
    OrderStatusChanged,
    order_event,
)
from process_apis.customer_steps import CustomerSnapshot, snapshot, upsert_erp_customer
from process_apis.deps import ProcessContext
from process_apis.errors import (
    CustomerNotActive,
    PriceCurrencyMismatch,
    PriceNotActive,
    UnknownReference,
)
from process_apis.legal_entities.repository import get_legal_entity
from process_apis.orders import repository
from process_apis.orders.credit import decide
from process_apis.orders.errors import (
    CustomerCreditHeld,
    CustomerCreditRefused,
    ErpOrderAmountMismatch,
    OrderInErp,
    ProductNotMapped,
    QuoteAlreadyOrdered,
)
from process_apis.orders.handover import hand_over, service_started
from process_apis.orders.repository import WORKFLOW
from process_apis.orders.schemas import SalesOrderCreate, SalesOrderResult
from process_apis.runs.engine import Engine, mark_succeeded, rejects
from process_apis.runs.replay import Replay
from process_apis.runs.repository import latest_run
from process_apis.runs.schemas import RunRef, RunState, run_url
from system_apis.erp.schemas import (
    ErpSalesOrder,
    ErpSalesOrderCreate,
    ErpSalesOrderLine,
    ErpSalesOrderStatus,
)
from system_apis.errors import BackendTransientError

STEPS = ("upsert_erp_customer", "check_credit", "create_sales_order")

# The order's status once the ERP holds it, by the ERP order's status.
FROM_ERP = {
    ErpSalesOrderStatus.OPEN: SalesOrderStatus.OPEN,
    ErpSalesOrderStatus.RELEASED: SalesOrderStatus.RELEASED,
    ErpSalesOrderStatus.COMPLETED: SalesOrderStatus.COMPLETED,
    ErpSalesOrderStatus.CANCELED: SalesOrderStatus.CANCELED,
}


@dataclass(frozen=True)
class OrderPlan:
    """Everything the steps need, captured in the prepare transaction."""

    run_id: str
    order_id: str
    customer: CustomerSnapshot
    document: ErpSalesOrderCreate
    amount: int
    hold: bool  # the credit policy is `hold`
    correlation_id: str | None
    # A caller waits for the answer (not a replay): a problem it can correct is not queued.
    answered: bool = False


class SalesOrderWorkflow:
    def __init__(self, context: ProcessContext) -> None:
        self.context = context
        self.engine = Engine(context.sessionmaker, steps=STEPS, lease=context.settings.run_lease)

    def replays(self) -> dict[str, Replay]:
        return {WORKFLOW: Replay(resume=self.resume, discard=self.discard)}

    async def accept(
        self, *, request: SalesOrderCreate, client_id: str, correlation_id: str | None
    ) -> tuple[SalesOrderResult, bool]:
        """The order of the quote, and whether this request created it (else the quote's
        order exists: the same answer again). A quote whose order was refused is tried
        again, as the caller corrected what was refused (the credit, the mapping)."""
        async with self.context.sessionmaker() as session:
            existing = await repository.order_by_quote(session, request.quote_id)
            if existing is not None and existing.status == SalesOrderStatus.REJECTED:
                await self._existing(session, existing, request)  # the same content
                existing.status = SALES_ORDER_STATUS.check(
                    SalesOrderStatus.REJECTED, SalesOrderStatus.PENDING
                )
                retried = await self._plan(
                    session,
                    existing,
                    client_id=client_id,
                    correlation_id=correlation_id,
                    claimed_run_id=None,
                )
                await session.commit()
            elif existing is not None:
                return await self._existing(session, existing, request), False
            else:
                retried = None
        if retried is not None:
            return await self.execute(retried), False
        async with self.context.sessionmaker() as session:
            order, lines = await self._validated(session, request)
            session.add(order)
            try:
                await session.flush()
            except IntegrityError:  # the same quote, accepted concurrently
                await session.rollback()
                existing = await repository.order_by_quote(session, request.quote_id)
                if existing is None:
                    raise
                return await self._existing(session, existing, request), False
            session.add_all(lines)
            await session.flush()
            plan = await self._plan(
                session,
                order,
                client_id=client_id,
                correlation_id=correlation_id,
                claimed_run_id=None,
            )
            await session.commit()
        return await self.execute(plan), True

    async def resume(self, run_id: str) -> SalesOrderResult:
        """Run a run claimed from the exception queue once more (replay)."""
        async with self.context.sessionmaker() as session:
            run = await session.get_one(WorkflowRunRow, run_id)
            order = await repository.get_order(session, run.subject_id, for_update=True)
            if order.status == SalesOrderStatus.HELD:
                order.status = SALES_ORDER_STATUS.check(
                    SalesOrderStatus.HELD, SalesOrderStatus.PENDING
                )
            if order.status != SalesOrderStatus.PENDING:
                raise OrderInErp(
                    f"sales order {order.id} is {order.status}; resolve the run instead",
                    order_id=order.id,
                )
            plan = await self._plan(
                session,
                order,
                client_id=run.client_id,
                correlation_id=run.correlation_id,
                claimed_run_id=run_id,
            )
            await session.commit()
        return await self.execute(plan)

    async def discard(self, session: AsyncSession, run: WorkflowRunRow) -> None:
        """Give the order up: `rejected`, unless the ERP got it (then it is canceled there)."""
        order = await repository.get_order(session, run.subject_id, for_update=True)
        created = await session.scalar(
            select(WorkflowStepRow.id).where(
                WorkflowStepRow.run_id == run.id,
                WorkflowStepRow.name == "create_sales_order",
                WorkflowStepRow.status == StepStatus.SUCCEEDED,
            )
        )
        if order.erp_order_id is not None or created is not None:
            raise OrderInErp(
                f"the ERP holds sales order {order.id}: cancel it there; the worker follows",
                order_id=order.id,
            )
        if order.status in (SalesOrderStatus.PENDING, SalesOrderStatus.HELD):
            order.status = SALES_ORDER_STATUS.check(order.status, SalesOrderStatus.REJECTED)
            await session.flush()
            await record(
                session,
                order_event(
                    OrderRejected,
                    order,
                    fact=(run.id, "discarded"),
                    correlation_id=run.correlation_id,
                    reason="discarded",
                ),
            )

    async def execute(self, plan: OrderPlan) -> SalesOrderResult:
        try:
            created = await self._run_steps(plan)
        except BackendTransientError as error:
            retry_at = await self.engine.defer(plan.run_id, error)
            async with self.context.sessionmaker() as session:
                return await repository.result(
                    session, plan.order_id, RunRef.queued(plan.run_id, retry_at)
                )
        except LedgergateError as error:
            await self._fail(plan, error)
            raise
        return await self._record(plan, created)

    async def _fail(self, plan: OrderPlan, error: LedgergateError) -> None:
        """The run in the queue (or rejected to its caller), the order held or rejected."""
        error.extensions.setdefault("order_id", plan.order_id)
        async with self.engine.transaction(plan.run_id) as session:
            order = await repository.get_order(session, plan.order_id, for_update=True)
            run = await session.get_one(WorkflowRunRow, plan.run_id)
            kind: type[OrderHeld] | type[OrderRejected] | None = None
            if isinstance(error, CustomerCreditHeld):
                kind, status = OrderHeld, SalesOrderStatus.HELD
            elif rejects(error, answered=plan.answered):
                kind, status = OrderRejected, SalesOrderStatus.REJECTED
            if kind is not None:
                order.status = SALES_ORDER_STATUS.check(order.status, status)
                await session.flush()
                reason = str(error.extensions.get("reason") or error.slug)
                await record(
                    session,
                    order_event(
                        kind,
                        order,
                        fact=(run.id, str(run.attempts)),
                        correlation_id=plan.correlation_id,
                        reason=reason,
                    ),
                )
        await self.engine.fail(plan.run_id, error, answered=plan.answered)

    async def _run_steps(self, plan: OrderPlan) -> ErpSalesOrder:
        erp, handle = self.context.erp, self.engine.run(plan.run_id)
        company, number = plan.customer.company_id, plan.customer.erp.number
        await upsert_erp_customer(self.context, handle, plan.customer)
        credit = await handle.step(
            "check_credit",
            lambda: erp.get_customer_credit(company, number, currency=plan.document.currency),
            request={"customer_number": number, "amount": plan.amount},
            downstream_key=number,
        )
        decision = decide(credit, plan.amount)
        if not decision.allowed:
            facts = decision.facts(credit, plan.amount)
            detail = (
                f"customer {plan.customer.customer_id} is blocked in the ERP"
                if decision.reason == "blocked"
                else f"customer {plan.customer.customer_id} owes {credit.balance}; with this "
                f"order's {plan.amount} it would pass its credit limit of {credit.credit_limit}"
            )
            raise (CustomerCreditHeld if plan.hold else CustomerCreditRefused)(detail, **facts)
        created = await handle.step(
            "create_sales_order",
            lambda: erp.create_sales_order(company, plan.document),
            request=plan.document,
            downstream_key=plan.order_id,
            backend_ref=lambda order: order.id,
        )
        if created.total_excluding_tax != plan.amount:
            await self._note_erp_order(plan.order_id, created)
            raise ErpOrderAmountMismatch(
                f"the ERP priced sales order {created.number} at {created.total_excluding_tax}, "
                f"the order is {plan.amount}",
                ours=plan.amount,
                erp=created.total_excluding_tax,
                erp_order_id=created.id,
            )
        return created

    async def _note_erp_order(self, order_id: str, erp_order: ErpSalesOrder) -> None:
        async with self.context.sessionmaker.begin() as session:
            order = await repository.get_order(session, order_id, for_update=True)
            _keep_erp_order(order, erp_order)

    async def _record(self, plan: OrderPlan, created: ErpSalesOrder) -> SalesOrderResult:
        async with self.engine.transaction(plan.run_id) as session:
            order = await repository.get_order(session, plan.order_id, for_update=True)
            run = await session.get_one(WorkflowRunRow, plan.run_id)
            _keep_erp_order(order, created)
            order.status = SALES_ORDER_STATUS.check(order.status, FROM_ERP[created.status])
            mark_succeeded(
                run,
                {
                    "erp_order_id": created.id,
                    "erp_order_number": created.number,
                    "erp_status": created.status.value,
                    "erp_subtotal": created.total_excluding_tax,
                },
            )
            await session.flush()
            correlation_id, partner_id = plan.correlation_id, order.partner_id
            await record(
                session,
                order_event(
                    OrderCreated,
                    order,
                    fact=(run.id,),
                    correlation_id=correlation_id,
                    partner_id=partner_id,
                ),
            )
            if service_started(order, self.context.today()):
                previous = order.status
                await hand_over(session, self.engine, order, correlation_id=plan.correlation_id)
                await session.flush()
                await record(
                    session,
                    order_event(
                        OrderStatusChanged,
                        order,
                        fact=(order.id, str(order.version)),
                        correlation_id=correlation_id,
                        partner_id=partner_id,
                        previous_status=previous,
                    ),
                )
            return await repository.result(session, order.id, RunRef.completed(run.id))

    async def _existing(
        self, session: AsyncSession, order: SalesOrderRow, request: SalesOrderCreate
    ) -> SalesOrderResult:
        """The quote's order, if the request is the same quote; else a conflict. A held
        order answers its hold again."""
        lines = await repository.lines_of(session, order.id)
        asked = [(line.price_id, line.quantity) for line in request.lines]
        if order.customer_id != request.customer_id or asked != [
            (line.price_id, line.quantity) for line in lines
        ]:
            raise QuoteAlreadyOrdered(
                f"quote {request.quote_id} is sales order {order.id} with other content",
                order_id=order.id,
            )
        run = await latest_run(session, workflow=WORKFLOW, subject_id=order.id)
        assert run is not None
        if order.status == SalesOrderStatus.HELD:
            raise CustomerCreditHeld(
                f"sales order {order.id} of quote {order.quote_ref} is held on the customer's "
                "credit; finance replays its run",
                order_id=order.id,
                run_id=run.id,
                run_url=run_url(run.id),
            )
        state = (
            RunState.PENDING_RETRY if run.status == RunStatus.PENDING_RETRY else RunState.COMPLETED
        )
        ref = RunRef(
            state=state, run_id=run.id, run_url=run_url(run.id), retry_at=run.next_attempt_at
        )
        return await repository.result(session, order.id, ref)

    async def _validated(
        self, session: AsyncSession, request: SalesOrderCreate
    ) -> tuple[SalesOrderRow, list[SalesOrderLineRow]]:
        """A `pending` order for an active customer, its lines mapped to ERP items."""
        customer = await session.get(CustomerRow, request.customer_id)
        if customer is None:
            raise UnknownReference(f"no customer {request.customer_id}", pointer="#/customer_id")
        if customer.status != CustomerStatus.ACTIVE:
            raise CustomerNotActive(f"customer {customer.id} is {customer.status}")
        if (
            request.partner_id is not None
            and await session.get(PartnerRow, request.partner_id) is None
        ):
            raise UnknownReference(f"no partner {request.partner_id}", pointer="#/partner_id")
        order = SalesOrderRow(
            id=new_id("sales_order"),
            quote_ref=request.quote_id,
            customer_id=customer.id,
            legal_entity_id=customer.legal_entity_id,
            partner_id=request.partner_id or customer.partner_id,
            currency=customer.currency,
            order_date=self.context.today(),
            service_start=request.service_start,
            status=SalesOrderStatus.PENDING,
            subtotal=0,
        )
        lines = []
        for index, asked in enumerate(request.lines):
            pointer = f"#/lines/{index}/price_id"
            price = await session.get(PriceRow, asked.price_id)
            if price is None:
                raise UnknownReference(f"no price {asked.price_id}", pointer=pointer)
            product = await session.get_one(ProductRow, price.product_id)
            if not (price.active and product.active) or price.meter is not None:
                raise PriceNotActive(
                    f"price {price.id} of {product.name} is not sold on orders", pointer=pointer
                )
            if price.currency != customer.currency:
                raise PriceCurrencyMismatch(
                    f"price {price.id} is in {price.currency}; customer {customer.id} is billed "
                    f"in {customer.currency}",
                    pointer=pointer,
                )
            if not product.erp_ref:
                raise ProductNotMapped(
                    f"product {product.id} ({product.name}) names no ERP item", pointer=pointer
                )
            amount = price.unit_amount * asked.quantity
            lines.append(
                SalesOrderLineRow(
                    id=new_id("sales_order_line"),
                    sales_order_id=order.id,
                    sequence=(index + 1) * 10_000,
                    price_id=price.id,
                    product_id=product.id,
                    description=product.name[:100],
                    quantity=asked.quantity,
                    unit_amount=price.unit_amount,
                    amount=amount,
                    tax_code=product.tax_code,
                    erp_item=product.erp_ref,
                )
            )
            order.subtotal += amount
        return order, lines

    async def _plan(
        self,
        session: AsyncSession,
        order: SalesOrderRow,
        *,
        client_id: str | None,
        correlation_id: str | None,
        claimed_run_id: str | None,
    ) -> OrderPlan:
        customer = await session.get_one(CustomerRow, order.customer_id)
        customer_snapshot = await snapshot(session, customer)
        entity = await get_legal_entity(session, order.legal_entity_id)
        run = self.engine.take(
            session,
            await latest_run(session, workflow=WORKFLOW, subject_id=order.id),
            workflow=WORKFLOW,
            subject_id=order.id,
            legal_entity_id=order.legal_entity_id,
            params={"quote_id": order.quote_ref, "customer_id": order.customer_id},
            correlation_id=correlation_id,
            client_id=client_id,
            claimed_run_id=claimed_run_id,
        )
        await session.flush()
        document = ErpSalesOrderCreate(
            external_document_number=order.id,
            customer_number=customer.erp_number,
            currency=order.currency,
            order_date=order.order_date,
            requested_delivery_date=order.service_start,
            lines=tuple(
                ErpSalesOrderLine(
                    sequence=line.sequence,
                    item_number=line.erp_item,
                    description=line.description,
                    quantity=line.quantity,
                    unit_price=line.unit_amount,
                    tax_code=entity.erp_tax_code(line.tax_code),
                )
                for line in await repository.lines_of(session, order.id)
            ),
        )
        return OrderPlan(
            run_id=run.id,
            order_id=order.id,
            customer=customer_snapshot,
            document=document,
            amount=order.subtotal,
            hold=self.context.settings.order_credit_policy == "hold",
            correlation_id=correlation_id,
            answered=claimed_run_id is None,
        )


def _keep_erp_order(order: SalesOrderRow, erp_order: ErpSalesOrder) -> None:
    """The ERP's order as last read, on ours."""
    order.erp_order_id = erp_order.id
    order.erp_order_number = erp_order.number
    order.erp_status = erp_order.status.value
    order.erp_subtotal = erp_order.total_excluding_tax
    order.erp_tax = erp_order.total_tax
    order.erp_total = erp_order.total_including_tax
    order.synced_at = utcnow()
