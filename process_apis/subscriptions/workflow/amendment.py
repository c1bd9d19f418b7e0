"""The subscription amendment workflow: a mid-cycle change of price and/or quantity.

A preview asks billing what the change would prorate and names the ERP document
that would account for it; it changes no subscription and no ledger.

Applying it: prepare (one transaction) checks the subscription is active with no
unfinished change, the new price is sold, in the same currency and interval, and
persists a `subscription_amendment` run; its id is the amendment id. Then, with no
transaction open:

1. the new price is synced into billing when it is not there yet;
2. the proration is quoted by billing (once per amendment: a replay reuses the
   recorded quote, because after the change billing would quote nothing);
3. the ERP posting date is checked against the legal entity's periods (the
   proration date's day; reject or roll forward, by policy) before billing changes;
4. billing changes the subscription as of the quote's proration date, keyed by the
   amendment id, so it prorates exactly what was quoted;
5. the ERP customer is upserted;
6. the ERP adjustment is posted, keyed by the amendment id as external document
   number: a sales invoice for a net charge (an upgrade), a sales credit memo for a
   net credit (a downgrade), nothing when the net is zero (or `proration_behavior`
   is `none`). One line for the net amount, with the tax billing charged on it: the
   new product's tax code when billing taxed the proration, the legal entity's untaxed
   tax group when it did not (`adjustment_totals`); booked to the deferred revenue
   account of the legal entity and the subscription's product before the change (the
   product of the billed line whose revenue schedule the proration adjusts, resolved as
   invoice lines are: `process_apis.revenue_accounts`), so the ERP holds the proration as
   deferred revenue from the start and the recognition journal moves only what each
   month earns; a draft whose totals differ from
   billing's is not posted (`amendment-erp-totals-mismatch`). Due on the posting date
   when billing invoices now (`always_invoice`), at the period end when the prorations
   wait for the next invoice. The memo stands open: when billing collects the proration
   with the next invoice, that invoice's payment applies it to the invoice's ERP document
   (`process_apis.payments.collected`);
7. the support desk is reconciled: an upgrade to enterprise grants the enterprise
   tier (premium support) before the pro one is revoked; a downgrade reduces it.

Finally the subscription takes the new price, quantity and period, and its local
entitlements the new tier's features; the adjustment is recorded as the amendment's
proration (`proration`), which the revenue schedules spread over the days it serves.
The adjustment document is the proration's only ERP document (billing's proration lines
are not registered as gateway invoices), so the ERP holds what billing prorates once,
whether billing invoices the prorations now or with the next period. A transient
failure queues the run (202). A run that failed after billing changed cannot be
discarded (its compensation would be another amendment, a new financial event): it is
replayed or resolved.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from core.canonical.base import fit
from core.canonical.parties import ClosedPeriodPolicy
from core.canonical.subscriptions import SubscriptionStatus
from core.errors import LedgergateError
from core.models.base import utcnow
from core.models.customer import CustomerRow
from core.models.legal_entity import AccountingPeriodRow
from core.models.price import PriceRow
from core.models.product import ProductRow
from core.models.subscription import SubscriptionRow
from core.models.workflow_run import WorkflowRunRow
from events.outbox import record
from events.schemas.subscription import SubscriptionAmended, subscription_event
from process_apis import customer_steps
from process_apis.customer_steps import CustomerSnapshot, snapshot, upsert_erp_customer
from process_apis.deps import ProcessContext
from process_apis.entitlements import service as entitlements
from process_apis.entitlements.features import support_tier
from process_apis.errors import PriceCurrencyMismatch, PriceNotActive, UnknownReference
from process_apis.legal_entities.periods import resolve_posting_date
from process_apis.legal_entities.repository import get_legal_entity
from process_apis.revenue_accounts import deferred_account
from process_apis.runs.engine import Engine, mark_succeeded
from process_apis.runs.replay import Replay
from process_apis.runs.repository import succeeded_step
from process_apis.runs.schemas import RunRef, run_url
from process_apis.subscriptions import repository
from process_apis.subscriptions.errors import (
    ChangePending,
    CompensationRefused,
    IntervalChange,
    NothingToAmend,
    SubscriptionNotActive,
)
from process_apis.subscriptions.schemas import (
    AmendmentCreate,
    AmendmentPreview,
    AmendmentResult,
    ErpAdjustment,
    ErpAdjustmentKind,
    ProrationBehavior,
    ProrationLineView,
)
from process_apis.subscriptions.workflow import catalog
from process_apis.subscriptions.workflow.adjustment_totals import Charged
from process_apis.subscriptions.workflow.cancellation import WORKFLOW as CANCEL_WORKFLOW
from process_apis.subscriptions.workflow.catalog import (
    PriceSnapshot,
    billing_price_now,
    price_snapshot,
    sync_billing_price,
)
from process_apis.subscriptions.workflow.proration import proration_row
from system_apis.billing.port import BillingPort
from system_apis.billing.schemas import (
    BillingSubscription,
    BillingSubscriptionChange,
    BillingSubscriptionItemChange,
    ProrationPreview,
)
from system_apis.billing.schemas import ProrationBehavior as BillingProration
from system_apis.erp.schemas import (
    ErpInvoiceLine,
    ErpSalesCreditMemo,
    ErpSalesCreditMemoCreate,
    ErpSalesInvoice,
    ErpSalesInvoiceCreate,
)
from system_apis.errors import BackendContractError, BackendTransientError
from system_apis.support.schemas import SupportTier

WORKFLOW = "subscription_amendment"
CHANGE_WORKFLOWS = (WORKFLOW, CANCEL_WORKFLOW)
CHANGE_STEP = "change_billing_subscription"
QUOTE_STEP = "quote_proration"
STEPS = (
    *catalog.STEPS,
    QUOTE_STEP,
    CHANGE_STEP,
    customer_steps.STEPS[2],
    "create_erp_adjustment",
    "post_erp_adjustment",
    "sync_support_entitlements",
)
Adjustment = TypeVar("Adjustment", ErpSalesInvoice, ErpSalesCreditMemo)


class Quote(BaseModel):
    """Billing's proration for the change, and the subscription item it changes."""

    item_id: str
    preview: ProrationPreview


@dataclass(frozen=True)
class Terms:
    """A subscription's terms before and after an amendment, validated."""

    subscription_id: str
    billing_subscription_id: str
    customer_id: str
    old: PriceSnapshot
    new: PriceSnapshot
    old_quantity: int
    quantity: int
    behavior: ProrationBehavior

    @property
    def price_changes(self) -> bool:
        return self.new.price_id != self.old.price_id


@dataclass(frozen=True)
class AmendmentPlan:
    run_id: str
    terms: Terms
    customer: CustomerSnapshot
    tier: SupportTier
    support: dict[str, SupportTier]
    periods: tuple[AccountingPeriodRow, ...]
    policy: ClosedPeriodPolicy
    key_prefix: str
    untaxed_tax_code: str | None
    tolerance: int
    deferred_account: str


@dataclass(frozen=True)
class Amended:
    quote: Quote
    billing: BillingSubscription
    adjustment: ErpAdjustment | None


async def validated_terms(
    session: AsyncSession, subscription: SubscriptionRow, request: AmendmentCreate
) -> Terms:
    """The amendment's old and new terms, or the business problem that refuses it."""
    if subscription.status != SubscriptionStatus.ACTIVE or subscription.billing_ref is None:
        raise SubscriptionNotActive(
            f"subscription {subscription.id} is {subscription.status}; only an active one "
            "can be amended",
            subscription_status=subscription.status,
        )
    old = await price_snapshot(session, await session.get_one(PriceRow, subscription.price_id))
    new_price = await session.get(PriceRow, request.price_id or subscription.price_id)
    if new_price is None:
        raise UnknownReference(f"no price {request.price_id}", pointer="#/price_id")
    new = await price_snapshot(session, new_price)
    quantity = request.quantity or subscription.quantity
    if (new.price_id, quantity) == (old.price_id, subscription.quantity):
        raise NothingToAmend(
            f"subscription {subscription.id} is already on {new.price_id} x {quantity}"
        )
    product = await session.get_one(ProductRow, new.product_id)
    if not (new_price.active and product.active):
        raise PriceNotActive(f"price {new.price_id} of {product.name} is no longer sold")
    if new.currency != old.currency:
        raise PriceCurrencyMismatch(
            f"price {new.price_id} is in {new.currency}; the subscription bills {old.currency}",
            pointer="#/price_id",
        )
    if new.interval != old.interval:
        raise IntervalChange(
            f"price {new.price_id} bills per {new.interval}, the subscription per {old.interval}",
            pointer="#/price_id",
        )
    support_tier(new.product_tier)
    return Terms(
        subscription_id=subscription.id,
        billing_subscription_id=subscription.billing_ref,
        customer_id=subscription.customer_id,
        old=old,
        new=new,
        old_quantity=subscription.quantity,
        quantity=quantity,
        behavior=request.proration_behavior,
    )


def billing_change(
    terms: Terms, item_id: str, price_ref: str, proration_date: datetime | None = None
) -> BillingSubscriptionChange:
    return BillingSubscriptionChange(
        items=(
            BillingSubscriptionItemChange(
                item_id=item_id,
                price_id=price_ref if terms.price_changes else None,
                quantity=terms.quantity,
            ),
        ),
        proration_behavior=BillingProration(terms.behavior.value),
        proration_date=proration_date,
    )


async def quote(billing: BillingPort, terms: Terms, price_ref: str) -> Quote:
    """Billing's proration for the change, as of billing's own clock."""
    current = await billing.get_subscription(terms.billing_subscription_id)
    item = next((i for i in current.items if i.price_id == terms.old.price_ref), None) or next(
        iter(current.items), None
    )
    if item is None:
        raise BackendContractError(
            f"billing subscription {current.id} has no items",
            backend="billing",
            operation="get_subscription",
        )
    preview = await billing.preview_subscription_change(
        current.id, billing_change(terms, item.id, price_ref)
    )
    return Quote(item_id=item.id, preview=preview)


def adjustment_kind(total: int) -> ErpAdjustmentKind:
    if total > 0:
        return ErpAdjustmentKind.SALES_INVOICE
    if total < 0:
        return ErpAdjustmentKind.CREDIT_MEMO
    return ErpAdjustmentKind.NONE


def preview_view(terms: Terms, preview: ProrationPreview) -> AmendmentPreview:
    return AmendmentPreview(
        subscription_id=terms.subscription_id,
        price_id=terms.new.price_id,
        quantity=terms.quantity,
        currency=preview.currency,
        proration_behavior=terms.behavior,
        proration_date=preview.proration_date,
        period_start=preview.period_start,
        period_end=preview.period_end,
        lines=[
            ProrationLineView(
                description=line.description,
                amount=line.amount,
                quantity=line.quantity,
                period_start=line.period_start,
                period_end=line.period_end,
            )
            for line in preview.lines
        ],
        total=preview.total,
        next_invoice_total=preview.next_invoice_total,
        erp_adjustment=adjustment_kind(preview.total),
    )


class SubscriptionAmendmentWorkflow:
    def __init__(self, context: ProcessContext) -> None:
        self.context = context
        self.engine = Engine(context.sessionmaker, steps=STEPS, lease=context.settings.run_lease)

    def replays(self) -> dict[str, Replay]:
        return {WORKFLOW: Replay(resume=self.resume, discard=self.discard)}

    async def preview(self, subscription_id: str, request: AmendmentCreate) -> AmendmentPreview:
        """The proration the amendment would make; changes no subscription or ledger."""
        async with self.context.sessionmaker() as session:
            subscription = await repository.get_subscription(session, subscription_id)
            terms = await validated_terms(session, subscription, request)
        price_ref = await billing_price_now(self.context, terms.new)
        quoted = await quote(self.context.billing, terms, price_ref)
        return preview_view(terms, quoted.preview)

    async def amend(
        self,
        subscription_id: str,
        request: AmendmentCreate,
        *,
        client_id: str | None,
        correlation_id: str | None,
        claimed_run_id: str | None = None,
    ) -> AmendmentResult:
        async with self.context.sessionmaker() as session:
            subscription = await repository.get_subscription(
                session, subscription_id, for_update=True
            )
            pending = await repository.unfinished_run(session, subscription_id, CHANGE_WORKFLOWS)
            if pending is not None and pending.id != claimed_run_id:
                raise ChangePending(
                    f"run {pending.id} ({pending.workflow}) on {subscription_id} is "
                    f"{pending.status}; replay, resolve or discard it first",
                    run_id=pending.id,
                    run_url=run_url(pending.id),
                )
            terms = await validated_terms(session, subscription, request)
            customer = await session.get_one(CustomerRow, terms.customer_id)
            if claimed_run_id is not None:
                run = await session.get_one(WorkflowRunRow, claimed_run_id)
                self.engine.resume(run, correlation_id=correlation_id)
            else:
                run = self.engine.new_run(
                    workflow=WORKFLOW,
                    subject_id=subscription_id,
                    legal_entity_id=customer.legal_entity_id,
                    params=request.model_dump(mode="json"),
                    correlation_id=correlation_id,
                    client_id=client_id,
                )
                session.add(run)
            legal_entity = await get_legal_entity(session, customer.legal_entity_id)
            tier = support_tier(terms.new.product_tier)
            ledger = self.context.settings.ledger
            plan = AmendmentPlan(
                run_id=run.id,
                terms=terms,
                customer=await snapshot(session, customer),
                tier=tier,
                support=await entitlements.desired_support(
                    session,
                    customer.id,
                    exclude=subscription_id,
                    plus={terms.new.product_id: tier},
                ),
                periods=tuple(legal_entity.periods),
                policy=ClosedPeriodPolicy(legal_entity.closed_period_policy),
                key_prefix=f"{run.id}:{run.attempts}",
                untaxed_tax_code=ledger.untaxed_tax_codes.get(legal_entity.country),
                tolerance=ledger.totals_tolerance.get(terms.new.currency, 0),
                deferred_account=deferred_account(
                    self.context.settings.revenue, legal_entity.code, terms.old.product_id
                ),
            )
            await session.commit()
        return await self.execute(plan)

    async def resume(self, run_id: str) -> AmendmentResult:
        """Run a run claimed from the exception queue once more (replay)."""
        run = await self.engine.load(run_id)
        return await self.amend(
            run.subject_id,
            AmendmentCreate.model_validate(run.params),
            client_id=run.client_id,
            correlation_id=run.correlation_id,
            claimed_run_id=run_id,
        )

    async def discard(self, session: AsyncSession, run: WorkflowRunRow) -> None:
        """Giving up is only possible while billing is unchanged: nothing to compensate then.

        Once billing has changed, undoing it is another amendment, with its own
        proration and ERP document: replay this run to finish it, or resolve it.
        """
        if await succeeded_step(session, run.id, CHANGE_STEP) is not None:
            raise CompensationRefused(
                f"run {run.id} already changed the subscription in billing; replay or resolve it"
            )

    async def execute(self, plan: AmendmentPlan) -> AmendmentResult:
        try:
            amended = await self._run_steps(plan)
        except BackendTransientError as error:
            retry_at = await self.engine.defer(plan.run_id, error)
            ref = RunRef.queued(plan.run_id, retry_at)
            return await self._result(plan, ref, await self._recorded_quote(plan.run_id), None)
        except LedgergateError as error:
            await self.engine.fail(plan.run_id, error)
            error.extensions.setdefault("amendment_id", plan.run_id)
            raise
        return await self._record(plan, amended)

    async def _run_steps(self, plan: AmendmentPlan) -> Amended:
        terms, billing, handle = plan.terms, self.context.billing, self.engine.run(plan.run_id)
        price_ref = await sync_billing_price(self.context, handle, terms.new)
        quoted = await self._recorded_quote(plan.run_id)
        if quoted is None:
            quoted = await handle.step(
                QUOTE_STEP,
                lambda: quote(billing, terms, price_ref),
                request={"price_id": price_ref, "quantity": terms.quantity},
                downstream_key=terms.billing_subscription_id,
            )
        preview = quoted.preview
        posting_date = None
        if preview.total != 0:
            posting_date = resolve_posting_date(
                (preview.proration_date or utcnow()).date(),
                periods=list(plan.periods),
                policy=plan.policy,
            )
        change = billing_change(terms, quoted.item_id, price_ref, preview.proration_date)
        key = f"ledgergate:amendment:{plan.run_id}"
        changed = await handle.step(
            CHANGE_STEP,
            lambda: billing.change_subscription(
                terms.billing_subscription_id, change, idempotency_key=key
            ),
            request=change,
            downstream_key=key,
            backend_ref=lambda changed: changed.id,
        )
        await upsert_erp_customer(self.context, handle, plan.customer)
        adjustment = None
        if posting_date is not None:
            adjustment = await self._post_adjustment(plan, preview, posting_date)
        support = self.context.support
        await handle.step(
            "sync_support_entitlements",
            lambda: entitlements.reconcile(
                support, terms.customer_id, plan.support, key_prefix=plan.key_prefix
            ),
            request={k: v.value for k, v in plan.support.items()},
            downstream_key=terms.customer_id,
        )
        return Amended(quote=quoted, billing=changed, adjustment=adjustment)

    async def _post_adjustment(
        self, plan: AmendmentPlan, preview: ProrationPreview, posting_date: date
    ) -> ErpAdjustment:
        """The sales invoice (net charge) or credit memo (net credit), keyed by the amendment."""
        charged = Charged.of(preview)
        lines, due_date = _adjustment_lines(
            plan.terms,
            preview,
            posting_date,
            charged.tax_code(plan.terms.new.tax_code, plan.untaxed_tax_code),
            plan.deferred_account,
        )
        number, currency = plan.customer.erp.number, preview.currency
        posted: ErpSalesInvoice | ErpSalesCreditMemo
        if preview.total > 0:
            kind = ErpAdjustmentKind.SALES_INVOICE
            posted = await self._post_charge(
                plan,
                charged,
                ErpSalesInvoiceCreate(
                    external_document_number=plan.run_id,
                    customer_number=number,
                    currency=currency,
                    posting_date=posting_date,
                    due_date=due_date,
                    lines=lines,
                ),
            )
        else:
            kind = ErpAdjustmentKind.CREDIT_MEMO
            posted = await self._post_credit(
                plan,
                charged,
                ErpSalesCreditMemoCreate(
                    external_document_number=plan.run_id,
                    customer_number=number,
                    currency=currency,
                    posting_date=posting_date,
                    due_date=due_date,
                    lines=lines,
                ),
            )
        return ErpAdjustment(
            kind=kind,
            document_id=posted.id,
            document_number=posted.number,
            external_document_number=plan.run_id,
            posting_date=posting_date,
            currency=currency,
            amount=posted.total_excluding_tax,
            total_including_tax=posted.total_including_tax,
        )

    async def _post_charge(
        self, plan: AmendmentPlan, charged: Charged, invoice: ErpSalesInvoiceCreate
    ) -> ErpSalesInvoice:
        erp, company = self.context.erp, plan.customer.company_id
        return await self._create_and_post(
            plan,
            charged,
            invoice,
            lambda: erp.create_sales_invoice(company, invoice),
            lambda draft_id: erp.post_sales_invoice(company, draft_id),
        )

    async def _post_credit(
        self, plan: AmendmentPlan, charged: Charged, memo: ErpSalesCreditMemoCreate
    ) -> ErpSalesCreditMemo:
        erp, company = self.context.erp, plan.customer.company_id
        return await self._create_and_post(
            plan,
            charged,
            memo,
            lambda: erp.create_sales_credit_memo(company, memo),
            lambda draft_id: erp.post_sales_credit_memo(company, draft_id),
        )

    async def _create_and_post(
        self,
        plan: AmendmentPlan,
        charged: Charged,
        request: BaseModel,
        create: Callable[[], Awaitable[Adjustment]],
        post: Callable[[str], Awaitable[Adjustment]],
    ) -> Adjustment:
        """The adjustment document created as a draft, then posted: two steps of the run.

        A draft with other totals than billing charged fails the creation step, so a
        replay reads the draft again (creating is idempotent by the amendment id) and
        posts it only once the ERP books billing's totals.
        """
        handle = self.engine.run(plan.run_id)

        async def create_checked() -> Adjustment:
            draft = await create()
            mismatch = charged.mismatch(draft, amendment_id=plan.run_id, tolerance=plan.tolerance)
            if mismatch is not None:
                raise mismatch
            return draft

        draft = await handle.step(
            "create_erp_adjustment",
            create_checked,
            request=request,
            downstream_key=plan.run_id,
            backend_ref=lambda document: document.id,
        )
        return await handle.step(
            "post_erp_adjustment",
            lambda: post(draft.id),
            request={"document_id": draft.id},
            downstream_key=plan.run_id,
            backend_ref=lambda document: document.number,
        )

    async def _recorded_quote(self, run_id: str) -> Quote | None:
        """The quote an earlier attempt of the run got, which a retry must not ask again."""
        async with self.context.sessionmaker() as session:
            step = await succeeded_step(session, run_id, QUOTE_STEP)
        return None if step is None else Quote.model_validate(step.outcome)

    async def _record(self, plan: AmendmentPlan, amended: Amended) -> AmendmentResult:
        terms = plan.terms
        async with self.context.sessionmaker() as session:
            subscription = await repository.get_subscription(
                session, terms.subscription_id, for_update=True
            )
            run = await session.get_one(WorkflowRunRow, plan.run_id)
            subscription.price_id = terms.new.price_id
            subscription.quantity = terms.quantity
            subscription.current_period_start = amended.billing.current_period_start
            subscription.current_period_end = amended.billing.current_period_end
            await entitlements.grant_local(
                session,
                subscription_id=subscription.id,
                customer_id=subscription.customer_id,
                product_id=terms.new.product_id,
                tier=plan.tier,
            )
            if amended.adjustment is not None:
                session.add(
                    proration_row(
                        plan.run_id,
                        subscription.id,
                        amended.quote.preview,
                        amended.adjustment,
                        deferred_account=plan.deferred_account,
                    )
                )
            mark_succeeded(run, _acknowledgement(plan, amended))
            await record(session, subscription_event(SubscriptionAmended, subscription, run))
            await session.commit()
        ref = RunRef.completed(plan.run_id)
        return await self._result(plan, ref, amended.quote, amended.adjustment)

    async def _result(
        self,
        plan: AmendmentPlan,
        ref: RunRef,
        quoted: Quote | None,
        adjustment: ErpAdjustment | None,
    ) -> AmendmentResult:
        async with self.context.sessionmaker() as session:
            base = await repository.result(session, plan.terms.subscription_id, ref)
        return AmendmentResult(
            **base.model_dump(),
            amendment_id=plan.run_id,
            proration=None if quoted is None else preview_view(plan.terms, quoted.preview),
            erp_adjustment=adjustment,
        )


def _acknowledgement(plan: AmendmentPlan, amended: Amended) -> dict[str, Any]:
    adjustment = amended.adjustment
    return {
        "from_price_id": plan.terms.old.price_id,
        "to_price_id": plan.terms.new.price_id,
        "quantity": plan.terms.quantity,
        "proration_date": (
            amended.quote.preview.proration_date.isoformat()
            if amended.quote.preview.proration_date
            else None
        ),
        "proration_total": amended.quote.preview.total,
        "currency": amended.quote.preview.currency,
        "erp_adjustment": None if adjustment is None else adjustment.model_dump(mode="json"),
        "entitlement_tier": plan.tier.value,
    }


def _adjustment_lines(
    terms: Terms, preview: ProrationPreview, posting_date: date, tax_code: str, account: str
) -> tuple[tuple[ErpInvoiceLine, ...], date]:
    """The adjustment's one line (the prorated difference, on its deferred revenue
    `account`) and its due date."""
    due_date = posting_date
    if terms.behavior == ProrationBehavior.CREATE_PRORATIONS:
        due_date = max(posting_date, preview.period_end.date())
    since = (preview.proration_date or preview.period_start).date().isoformat()
    line = ErpInvoiceLine(
        sequence=1,
        description=fit(
            ErpInvoiceLine,
            "description",
            f"Proration {terms.old.product_name} x{terms.old_quantity} -> "
            f"{terms.new.product_name} x{terms.quantity} from {since}",
        ),
        quantity=1,
        unit_price=abs(preview.total),
        tax_code=tax_code,
        account_number=account,
    )
    return (line,), due_date
