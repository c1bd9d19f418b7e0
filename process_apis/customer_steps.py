"""Customer steps that the customer sync and the subscription workflows both run.

The billing customer (created once, keyed by our id in its metadata and by an
idempotency key derived from our id and the body; a customer that has one already is
brought up to date) and the ERP customer (upserted by its number in the company of
the customer's legal entity). Each step records its cross-reference (`billing_ref`,
`erp_ref`) as soon as it has it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from core.canonical.base import fit
from core.models.customer import CustomerRow
from core.models.legal_entity import LegalEntityRow
from process_apis.deps import ProcessContext
from process_apis.references import billing_key, save_refs
from process_apis.runs.engine import RunHandle
from system_apis.billing.schemas import BillingCustomerCreate, BillingCustomerUpdate
from system_apis.erp.schemas import ErpCustomerUpsert

STEPS = ("create_billing_customer", "update_billing_customer", "upsert_erp_customer")


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
            display_name=fit(ErpCustomerUpsert, "display_name", customer.name),
            email=fit(ErpCustomerUpsert, "email", customer.email),
            currency=customer.currency,
        ),
    )


async def sync_billing_customer(
    context: ProcessContext, run: RunHandle, customer: CustomerSnapshot
) -> str:
    """The billing customer's id: brought up to date when we hold one, created otherwise."""
    billing = context.billing
    if customer.billing_ref is not None:
        ref = customer.billing_ref
        update = BillingCustomerUpdate(name=customer.billing.name, email=customer.billing.email)
        key = billing_key("customer-update", customer.customer_id, update)
        updated = await run.step(
            "update_billing_customer",
            lambda: billing.update_customer(ref, update, idempotency_key=key),
            request={"billing_customer_id": ref, **update.model_dump()},
            downstream_key=key,
            backend_ref=lambda updated: updated.id,
        )
        return updated.id
    key = billing_key("customer", customer.customer_id, customer.billing)
    created = await run.step(
        "create_billing_customer",
        lambda: billing.create_customer(customer.billing, idempotency_key=key),
        request=customer.billing,
        downstream_key=key,
        backend_ref=lambda created: created.id,
    )
    await save_refs(context.sessionmaker, CustomerRow, customer.customer_id, billing_ref=created.id)
    return created.id


async def upsert_erp_customer(
    context: ProcessContext, run: RunHandle, customer: CustomerSnapshot
) -> str:
    """The ERP customer's id, upserted by number in the legal entity's company."""
    erp = context.erp
    upserted = await run.step(
        "upsert_erp_customer",
        lambda: erp.upsert_customer(customer.company_id, customer.erp),
        request=customer.erp,
        downstream_key=customer.erp.number,
        backend_ref=lambda upserted: upserted.id,
    )
    await save_refs(context.sessionmaker, CustomerRow, customer.customer_id, erp_ref=upserted.id)
    return upserted.id
