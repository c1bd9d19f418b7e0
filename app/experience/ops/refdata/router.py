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
from core.auth import requires
from core.canonical.base import Code
from core.canonical.catalog import Price, Product
from core.canonical.parties import Partner, PeriodStatus
from core.ids import id_pattern
from core.models.base import VersionedMixin
from core.models.legal_entity import LegalEntityRow
from core.problems import problem_responses
from process_apis.deps import ContextDep, SessionDep, TransactionDep
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

READ = [requires("refdata:read")]
WRITE = [requires("refdata:write")]
READ_ERRORS = problem_responses(401, 403, 404, 422)
CREATE_ERRORS = problem_responses(400, 401, 403, 404, 409, 413, 415, 422)
CHANGE_ERRORS = problem_responses(400, 401, 403, 404, 409, 412, 413, 415, 422, 428)
ETAG = {"ETag": {"description": "The object's version.", "schema": {"type": "string"}}}


def _tagged(response: Response, row: VersionedMixin) -> None:
    response.headers["ETag"] = service.etag(row.version)


def _entity(response: Response, row: LegalEntityRow) -> LegalEntityResource:
    _tagged(response, row)
    return LegalEntityResource.model_validate(row)


# Legal entities


@router.get(
    "/legal-entities",
    response_model=list[LegalEntityResource],
    operation_id="ops-legal-entities-list",
    summary="List legal entities",
    dependencies=READ,
    responses=problem_responses(401, 403),
)
async def list_legal_entities(session: SessionDep) -> list[LegalEntityResource]:
    """Every legal entity with its ERP connection, periods and tax-code mappings."""
    rows = await service.list_legal_entities(session)
    return [LegalEntityResource.model_validate(row) for row in rows]


@router.post(
    "/legal-entities",
    response_model=LegalEntityResource,
    status_code=201,
    operation_id="ops-legal-entities-create",
    summary="Create a legal entity",
    dependencies=WRITE,
    responses={201: {"headers": ETAG}, **CREATE_ERRORS},
)
async def create_legal_entity(
    data: LegalEntityCreate, transaction: TransactionDep, context: ContextDep, response: Response
) -> LegalEntityResource:
    """A company that issues invoices, on one of the configured ERP connections."""
    async with transaction() as session:
        row = await service.create_legal_entity(
            session, data=data, erp_connections=context.settings.erp_connection_settings
        )
    response.headers["Location"] = f"/ops/v1/legal-entities/{row.id}"
    return _entity(response, row)


@router.get(
    "/legal-entities/{legal_entity_id}",
    response_model=LegalEntityResource,
    operation_id="ops-legal-entities-get",
    summary="Get a legal entity",
    dependencies=READ,
    responses={200: {"headers": ETAG}, **READ_ERRORS},
)
async def get_legal_entity(
    legal_entity_id: LegalEntityID, session: SessionDep, response: Response
) -> LegalEntityResource:
    """One legal entity; its `ETag` guards changes to it, its periods and tax codes."""
    return _entity(response, await service.get_legal_entity(session, legal_entity_id))


@router.patch(
    "/legal-entities/{legal_entity_id}",
    response_model=LegalEntityResource,
    operation_id="ops-legal-entities-update",
    summary="Update a legal entity",
    dependencies=WRITE,
    responses={200: {"headers": ETAG}, **CHANGE_ERRORS},
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
    async with transaction() as session:
        row = await service.update_legal_entity(
            session,
            legal_entity_id,
            data=data,
            if_match=if_match,
            erp_connections=context.settings.erp_connection_settings,
        )
    return _entity(response, row)


@router.post(
    "/legal-entities/{legal_entity_id}/periods",
    response_model=LegalEntityResource,
    status_code=201,
    operation_id="ops-periods-create",
    summary="Add an accounting period",
    dependencies=WRITE,
    responses={201: {"headers": ETAG}, **CHANGE_ERRORS},
)
async def add_period(
    legal_entity_id: LegalEntityID,
    data: PeriodCreate,
    transaction: TransactionDep,
    response: Response,
    if_match: IfMatch = None,
) -> LegalEntityResource:
    """A period that overlaps none of the entity's; open unless said otherwise."""
    async with transaction() as session:
        row = await service.add_period(session, legal_entity_id, data=data, if_match=if_match)
    return _entity(response, row)


@router.post(
    "/legal-entities/{legal_entity_id}/periods/{period_id}/close",
    response_model=LegalEntityResource,
    operation_id="ops-periods-close",
    summary="Close an accounting period",
    dependencies=WRITE,
    responses={200: {"headers": ETAG}, **CHANGE_ERRORS},
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
    async with transaction() as session:
        row = await service.set_period_status(
            session,
            legal_entity_id,
            period_id,
            status=PeriodStatus.CLOSED,
            reason=data.reason,
            if_match=if_match,
        )
    return _entity(response, row)


@router.post(
    "/legal-entities/{legal_entity_id}/periods/{period_id}/reopen",
    response_model=LegalEntityResource,
    operation_id="ops-periods-reopen",
    summary="Reopen an accounting period",
    dependencies=WRITE,
    responses={200: {"headers": ETAG}, **CHANGE_ERRORS},
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
    async with transaction() as session:
        row = await service.set_period_status(
            session,
            legal_entity_id,
            period_id,
            status=PeriodStatus.OPEN,
            reason=data.reason,
            if_match=if_match,
        )
    return _entity(response, row)


@router.put(
    "/legal-entities/{legal_entity_id}/tax-codes/{tax_code}",
    response_model=LegalEntityResource,
    operation_id="ops-tax-codes-put",
    summary="Map a tax code to an ERP tax group",
    dependencies=WRITE,
    responses={200: {"headers": ETAG}, **CHANGE_ERRORS},
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
    async with transaction() as session:
        row = await service.put_tax_code(
            session, legal_entity_id, tax_code, erp_tax_code=data.erp_tax_code, if_match=if_match
        )
    return _entity(response, row)


# Partners and their commission rate cards


@router.get(
    "/partners",
    response_model=list[Partner],
    operation_id="ops-partners-list",
    summary="List partners",
    dependencies=READ,
    responses=problem_responses(401, 403),
)
async def list_partners(session: SessionDep) -> list[Partner]:
    """Every partner, by name."""
    return [Partner.model_validate(row) for row in await service.list_partners(session)]


@router.post(
    "/partners",
    response_model=Partner,
    status_code=201,
    operation_id="ops-partners-create",
    summary="Create a partner",
    dependencies=WRITE,
    responses={201: {"headers": ETAG}, **CREATE_ERRORS},
)
async def create_partner(
    data: PartnerCreate, transaction: TransactionDep, response: Response
) -> Partner:
    """A channel partner on a CRM commission plan."""
    async with transaction() as session:
        row = await service.create_partner(session, data=data)
    response.headers["Location"] = f"/ops/v1/partners/{row.id}"
    _tagged(response, row)
    return Partner.model_validate(row)


@router.get(
    "/partners/{partner_id}",
    response_model=Partner,
    operation_id="ops-partners-get",
    summary="Get a partner",
    dependencies=READ,
    responses={200: {"headers": ETAG}, **READ_ERRORS},
)
async def get_partner(partner_id: PartnerID, session: SessionDep, response: Response) -> Partner:
    """One partner."""
    row = await service.get_partner(session, partner_id)
    _tagged(response, row)
    return Partner.model_validate(row)


@router.patch(
    "/partners/{partner_id}",
    response_model=Partner,
    operation_id="ops-partners-update",
    summary="Update a partner",
    dependencies=WRITE,
    responses={200: {"headers": ETAG}, **CHANGE_ERRORS},
)
async def update_partner(
    partner_id: PartnerID,
    data: PartnerUpdate,
    transaction: TransactionDep,
    response: Response,
    if_match: IfMatch = None,
) -> Partner:
    """Rename, move to another commission plan, suspend, reactivate or terminate."""
    async with transaction() as session:
        row = await service.update_partner(session, partner_id, data=data, if_match=if_match)
    _tagged(response, row)
    return Partner.model_validate(row)


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


@router.get(
    "/products",
    response_model=list[Product],
    operation_id="ops-products-list",
    summary="List products",
    dependencies=READ,
    responses=problem_responses(401, 403),
)
async def list_products(session: SessionDep) -> list[Product]:
    """Every product, by name, with its ERP item and billing product."""
    return [Product.model_validate(row) for row in await service.list_products(session)]


@router.post(
    "/products",
    response_model=Product,
    status_code=201,
    operation_id="ops-products-create",
    summary="Create a product",
    dependencies=WRITE,
    responses={201: {"headers": ETAG}, **CREATE_ERRORS},
)
async def create_product(
    data: ProductCreate, transaction: TransactionDep, response: Response
) -> Product:
    """A product, mapped to its ERP item (and billing product, when it exists already)."""
    async with transaction() as session:
        row = await service.create_product(session, data=data)
    response.headers["Location"] = f"/ops/v1/products/{row.id}"
    _tagged(response, row)
    return Product.model_validate(row)


@router.get(
    "/products/{product_id}",
    response_model=Product,
    operation_id="ops-products-get",
    summary="Get a product",
    dependencies=READ,
    responses={200: {"headers": ETAG}, **READ_ERRORS},
)
async def get_product(product_id: ProductID, session: SessionDep, response: Response) -> Product:
    """One product."""
    row = await service.get_product(session, product_id)
    _tagged(response, row)
    return Product.model_validate(row)


@router.patch(
    "/products/{product_id}",
    response_model=Product,
    operation_id="ops-products-update",
    summary="Update a product",
    dependencies=WRITE,
    responses={200: {"headers": ETAG}, **CHANGE_ERRORS},
)
async def update_product(
    product_id: ProductID,
    data: ProductUpdate,
    transaction: TransactionDep,
    response: Response,
    if_match: IfMatch = None,
) -> Product:
    """Rename, retier, remap or deactivate a product."""
    async with transaction() as session:
        row = await service.update_product(session, product_id, data=data, if_match=if_match)
    _tagged(response, row)
    return Product.model_validate(row)


@router.get(
    "/products/{product_id}/prices",
    response_model=list[Price],
    operation_id="ops-prices-list",
    summary="List a product's prices",
    dependencies=READ,
    responses=READ_ERRORS,
)
async def list_prices(product_id: ProductID, session: SessionDep) -> list[Price]:
    """The product's prices, active or not, oldest first."""
    return [Price.model_validate(row) for row in await service.list_prices(session, product_id)]


@router.post(
    "/products/{product_id}/prices",
    response_model=Price,
    status_code=201,
    operation_id="ops-prices-create",
    summary="Add a price",
    dependencies=WRITE,
    responses={201: {"headers": ETAG}, **CREATE_ERRORS},
)
async def create_price(
    product_id: ProductID, data: PriceCreate, transaction: TransactionDep, response: Response
) -> Price:
    """A price in one currency and interval; a new amount is a new price."""
    async with transaction() as session:
        row = await service.create_price(session, product_id, data=data)
    response.headers["Location"] = f"/ops/v1/prices/{row.id}"
    _tagged(response, row)
    return Price.model_validate(row)


@router.get(
    "/prices/{price_id}",
    response_model=Price,
    operation_id="ops-prices-get",
    summary="Get a price",
    dependencies=READ,
    responses={200: {"headers": ETAG}, **READ_ERRORS},
)
async def get_price(price_id: PriceID, session: SessionDep, response: Response) -> Price:
    """One price."""
    row = await service.get_price(session, price_id)
    _tagged(response, row)
    return Price.model_validate(row)


@router.patch(
    "/prices/{price_id}",
    response_model=Price,
    operation_id="ops-prices-update",
    summary="Update a price",
    dependencies=WRITE,
    responses={200: {"headers": ETAG}, **CHANGE_ERRORS},
)
async def update_price(
    price_id: PriceID,
    data: PriceUpdate,
    transaction: TransactionDep,
    response: Response,
    if_match: IfMatch = None,
) -> Price:
    """Deactivate a price, or map it to its billing price."""
    async with transaction() as session:
        row = await service.update_price(session, price_id, data=data, if_match=if_match)
    _tagged(response, row)
    return Price.model_validate(row)
