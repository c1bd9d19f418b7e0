"""`/ops/v1/legal-entities`, `/ops/v1/partners`, `/ops/v1/products`, `/ops/v1/prices`:
the reference data finance keeps. Every answer carries the object's version as `ETag`;
every change needs it back as `If-Match`. The edge audits every write."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Response

from app.experience.ops.refdata import service
from app.experience.ops.refdata.schemas import (
    LegalEntityCreate,
    LegalEntityResource,
    LegalEntityUpdate,
    PartnerCreate,
    PartnerUpdate,
    PeriodClose,
    PeriodCreate,
    PeriodReopen,
    PriceCreate,
    PriceUpdate,
    ProductCreate,
    ProductUpdate,
    TaxCodeMappingPut,
)
from app.experience.ops.refdata.versioned import READ, WRITE, VersionedResource
from core.canonical.base import Code
from core.canonical.catalog import Price, Product
from core.canonical.parties import Partner, PeriodStatus
from core.ids import id_pattern
from core.problems import problem_responses
from process_apis.deps import ContextDep, SessionDep, Transaction, TransactionDep
from process_apis.idempotency import IdempotentWrite, Outcome
from system_apis.crm.schemas import CrmCommissionPlan, CrmRateCardVersionCreate

router = APIRouter(prefix="/ops/v1", tags=["ops-reference-data"])

LegalEntityID = Annotated[str, Path(pattern=id_pattern("legal_entity"))]
PeriodID = Annotated[str, Path(pattern=id_pattern("accounting_period"))]
PartnerID = Annotated[str, Path(pattern=id_pattern("partner"))]
ProductID = Annotated[str, Path(pattern=id_pattern("product"))]
PriceID = Annotated[str, Path(pattern=id_pattern("price"))]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=200,
        description='The object\'s `ETag` (its version, `"3"`) as last read; `*` for any.',
    ),
]

LEGAL_ENTITIES = VersionedResource(router, LegalEntityResource, "/ops/v1/legal-entities")
PARTNERS = VersionedResource(router, Partner, "/ops/v1/partners")
PRODUCTS = VersionedResource(router, Product, "/ops/v1/products")
PRICES = VersionedResource(router, Price, "/ops/v1/prices")


# Legal entities


@LEGAL_ENTITIES.list_route(
    "/legal-entities", operation_id="ops-legal-entities-list", summary="List legal entities"
)
async def list_legal_entities(session: SessionDep) -> list[LegalEntityResource]:
    """Every legal entity with its ERP connection, periods and tax-code mappings."""
    rows = await service.list_legal_entities(session)
    return [LegalEntityResource.model_validate(row) for row in rows]


@LEGAL_ENTITIES.create_route(
    "/legal-entities", operation_id="ops-legal-entities-create", summary="Create a legal entity"
)
async def create_legal_entity(
    data: LegalEntityCreate, transaction: TransactionDep, context: ContextDep, response: Response
) -> LegalEntityResource:
    """A company that issues invoices, on one of the configured ERP connections."""
    connections = context.settings.erp_connection_settings
    return await LEGAL_ENTITIES.created(
        transaction,
        response,
        lambda session: service.create_legal_entity(
            session, data=data, erp_connections=connections
        ),
    )


@LEGAL_ENTITIES.read_route(
    "/legal-entities/{legal_entity_id}",
    operation_id="ops-legal-entities-get",
    summary="Get a legal entity",
)
async def get_legal_entity(
    legal_entity_id: LegalEntityID, session: SessionDep, response: Response
) -> LegalEntityResource:
    """One legal entity; its `ETag` guards changes to it, its periods and tax codes."""
    return LEGAL_ENTITIES.tagged(response, await service.get_legal_entity(session, legal_entity_id))


@LEGAL_ENTITIES.change_route(
    "/legal-entities/{legal_entity_id}",
    operation_id="ops-legal-entities-update",
    summary="Update a legal entity",
)
async def update_legal_entity(
    legal_entity_id: LegalEntityID,
    data: LegalEntityUpdate,
    transaction: TransactionDep,
    context: ContextDep,
    response: Response,
    if_match: IfMatch = None,
) -> LegalEntityResource:
    """Rename it, change its closed-period policy, or move it to another ERP connection."""
    connections = context.settings.erp_connection_settings
    return await LEGAL_ENTITIES.changed(
        transaction,
        response,
        lambda session: service.update_legal_entity(
            session, legal_entity_id, data=data, if_match=if_match, erp_connections=connections
        ),
    )


@LEGAL_ENTITIES.change_route(
    "/legal-entities/{legal_entity_id}/periods",
    operation_id="ops-periods-create",
    summary="Add an accounting period",
    method="POST",
    status_code=201,
)
async def add_period(
    legal_entity_id: LegalEntityID,
    data: PeriodCreate,
    transaction: TransactionDep,
    response: Response,
    if_match: IfMatch = None,
) -> LegalEntityResource:
    """A period that overlaps none of the entity's; open unless said otherwise."""
    return await LEGAL_ENTITIES.changed(
        transaction,
        response,
        lambda session: service.add_period(session, legal_entity_id, data=data, if_match=if_match),
    )


@LEGAL_ENTITIES.change_route(
    "/legal-entities/{legal_entity_id}/periods/{period_id}/close",
    operation_id="ops-periods-close",
    summary="Close an accounting period",
    method="POST",
)
async def close_period(
    legal_entity_id: LegalEntityID,
    period_id: PeriodID,
    data: PeriodClose,
    transaction: TransactionDep,
    response: Response,
    if_match: IfMatch = None,
) -> LegalEntityResource:
    """No posting dated in it from now on: the entity's policy rejects or rolls it forward."""
    return await _set_period_status(
        transaction, response, legal_entity_id, period_id, PeriodStatus.CLOSED, data, if_match
    )


@LEGAL_ENTITIES.change_route(
    "/legal-entities/{legal_entity_id}/periods/{period_id}/reopen",
    operation_id="ops-periods-reopen",
    summary="Reopen an accounting period",
    method="POST",
)
async def reopen_period(
    legal_entity_id: LegalEntityID,
    period_id: PeriodID,
    data: PeriodReopen,
    transaction: TransactionDep,
    response: Response,
    if_match: IfMatch = None,
) -> LegalEntityResource:
    """Accept postings in a closed period again; the reason is kept on the period."""
    return await _set_period_status(
        transaction, response, legal_entity_id, period_id, PeriodStatus.OPEN, data, if_match
    )


@LEGAL_ENTITIES.change_route(
    "/legal-entities/{legal_entity_id}/tax-codes/{tax_code}",
    operation_id="ops-tax-codes-put",
    summary="Map a tax code to an ERP tax group",
    method="PUT",
)
async def put_tax_code(
    legal_entity_id: LegalEntityID,
    tax_code: Annotated[Code, Path(description="The canonical tax code the mapping is for.")],
    data: TaxCodeMappingPut,
    transaction: TransactionDep,
    response: Response,
    if_match: IfMatch = None,
) -> LegalEntityResource:
    """The ERP tax group the entity books a canonical tax code with."""
    return await LEGAL_ENTITIES.changed(
        transaction,
        response,
        lambda session: service.put_tax_code(
            session, legal_entity_id, tax_code, erp_tax_code=data.erp_tax_code, if_match=if_match
        ),
    )


async def _set_period_status(
    transaction: Transaction,
    response: Response,
    legal_entity_id: str,
    period_id: str,
    status: PeriodStatus,
    data: PeriodClose | PeriodReopen,
    if_match: str | None,
) -> LegalEntityResource:
    return await LEGAL_ENTITIES.changed(
        transaction,
        response,
        lambda session: service.set_period_status(
            session,
            legal_entity_id,
            period_id,
            status=status,
            reason=data.reason,
            if_match=if_match,
        ),
    )


# Partners and their commission rate cards


@PARTNERS.list_route("/partners", operation_id="ops-partners-list", summary="List partners")
async def list_partners(session: SessionDep) -> list[Partner]:
    """Every partner, by name."""
    return [Partner.model_validate(row) for row in await service.list_partners(session)]


@PARTNERS.create_route("/partners", operation_id="ops-partners-create", summary="Create a partner")
async def create_partner(
    data: PartnerCreate, transaction: TransactionDep, response: Response
) -> Partner:
    """A channel partner on a CRM commission plan."""
    return await PARTNERS.created(
        transaction, response, lambda session: service.create_partner(session, data=data)
    )


@PARTNERS.read_route(
    "/partners/{partner_id}", operation_id="ops-partners-get", summary="Get a partner"
)
async def get_partner(partner_id: PartnerID, session: SessionDep, response: Response) -> Partner:
    """One partner."""
    return PARTNERS.tagged(response, await service.get_partner(session, partner_id))


@PARTNERS.change_route(
    "/partners/{partner_id}", operation_id="ops-partners-update", summary="Update a partner"
)
async def update_partner(
    partner_id: PartnerID,
    data: PartnerUpdate,
    transaction: TransactionDep,
    response: Response,
    if_match: IfMatch = None,
) -> Partner:
    """Rename, move to another commission plan, suspend, reactivate or terminate."""
    return await PARTNERS.changed(
        transaction,
        response,
        lambda session: service.update_partner(session, partner_id, data=data, if_match=if_match),
    )


@router.get(
    "/partners/{partner_id}/rate-card",
    response_model=CrmCommissionPlan,
    operation_id="ops-partners-rate-card",
    summary="Get a partner's commission rate card",
    dependencies=READ,
    responses=problem_responses(401, 403, 404, 422, 502, 503),
)
async def get_rate_card(partner_id: PartnerID, context: ContextDep) -> CrmCommissionPlan:
    """The partner's commission plan in the CRM, with every rate-card version."""
    async with context.sessionmaker() as session:
        plan = (await service.get_partner(session, partner_id)).commission_plan
    return await context.crm.get_commission_plan(plan)


@router.post(
    "/partners/{partner_id}/rate-card-versions",
    response_model=CrmCommissionPlan,
    status_code=201,
    operation_id="ops-partners-rate-card-versions-create",
    summary="Add a commission rate-card version",
    dependencies=WRITE,
    responses=problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 502, 503),
)
async def add_rate_card_version(
    partner_id: PartnerID,
    data: CrmRateCardVersionCreate,
    context: ContextDep,
    idempotency: IdempotentWrite,
) -> Response:
    """Requires `Idempotency-Key`. New rates from a date after the latest version's; the
    versions before it never change, so commissions already rated keep their lineage."""

    async def handle() -> Outcome:
        async with context.sessionmaker() as session:
            plan = (await service.get_partner(session, partner_id)).commission_plan
        added = await context.crm.add_rate_card_version(
            plan, data, idempotency_key=f"{idempotency.client_id}:{idempotency.key}"
        )
        return Outcome(201, added)

    return await idempotency(data, handle)


# Products and prices


@PRODUCTS.list_route("/products", operation_id="ops-products-list", summary="List products")
async def list_products(session: SessionDep) -> list[Product]:
    """Every product, by name, with its ERP item and billing product."""
    return [Product.model_validate(row) for row in await service.list_products(session)]


@PRODUCTS.create_route("/products", operation_id="ops-products-create", summary="Create a product")
async def create_product(
    data: ProductCreate, transaction: TransactionDep, response: Response
) -> Product:
    """A product, mapped to its ERP item (and billing product, when it exists already)."""
    return await PRODUCTS.created(
        transaction, response, lambda session: service.create_product(session, data=data)
    )


@PRODUCTS.read_route(
    "/products/{product_id}", operation_id="ops-products-get", summary="Get a product"
)
async def get_product(product_id: ProductID, session: SessionDep, response: Response) -> Product:
    """One product."""
    return PRODUCTS.tagged(response, await service.get_product(session, product_id))


@PRODUCTS.change_route(
    "/products/{product_id}", operation_id="ops-products-update", summary="Update a product"
)
async def update_product(
    product_id: ProductID,
    data: ProductUpdate,
    transaction: TransactionDep,
    response: Response,
    if_match: IfMatch = None,
) -> Product:
    """Rename, retier, remap or deactivate a product."""
    return await PRODUCTS.changed(
        transaction,
        response,
        lambda session: service.update_product(session, product_id, data=data, if_match=if_match),
    )


@PRICES.list_route(
    "/products/{product_id}/prices",
    operation_id="ops-prices-list",
    summary="List a product's prices",
    missing_parent=True,
)
async def list_prices(product_id: ProductID, session: SessionDep) -> list[Price]:
    """The product's prices, active or not, oldest first."""
    return [Price.model_validate(row) for row in await service.list_prices(session, product_id)]


@PRICES.create_route(
    "/products/{product_id}/prices", operation_id="ops-prices-create", summary="Add a price"
)
async def create_price(
    product_id: ProductID, data: PriceCreate, transaction: TransactionDep, response: Response
) -> Price:
    """A price in one currency and interval; a new amount is a new price."""
    return await PRICES.created(
        transaction, response, lambda session: service.create_price(session, product_id, data=data)
    )


@PRICES.read_route("/prices/{price_id}", operation_id="ops-prices-get", summary="Get a price")
async def get_price(price_id: PriceID, session: SessionDep, response: Response) -> Price:
    """One price."""
    return PRICES.tagged(response, await service.get_price(session, price_id))


@PRICES.change_route(
    "/prices/{price_id}", operation_id="ops-prices-update", summary="Update a price"
)
async def update_price(
    price_id: PriceID,
    data: PriceUpdate,
    transaction: TransactionDep,
    response: Response,
    if_match: IfMatch = None,
) -> Price:
    """Deactivate a price, or map it to its billing price."""
    return await PRICES.changed(
        transaction,
        response,
        lambda session: service.update_price(session, price_id, data=data, if_match=if_match),
    )
