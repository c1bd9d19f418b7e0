"""`ledgergate refdata`: reference data from the command line, audited like the ops API.

Creation goes through the importer (`import FILE`, or `create KIND --set ...` for
one row), so a file and a command obey the same rules; changes name the version
they were made against, as `If-Match` does over HTTP.
"""

from __future__ import annotations

import asyncio
import getpass
import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from app.experience.ops.refdata import importer, service
from app.experience.ops.refdata.importer import from_text
from app.experience.ops.refdata.schemas import (
    LegalEntityResource,
    LegalEntityUpdate,
    PartnerUpdate,
    PriceUpdate,
    ProductUpdate,
)
from app.runtime import runtime
from core.canonical.catalog import Price, Product
from core.canonical.parties import Partner, PeriodStatus
from core.db import create_engine, create_sessionmaker
from core.errors import LedgergateError
from core.ids import new_id
from core.migrate import upgrade
from core.models.audit_event import AuditEventRow
from core.settings import get_settings
from system_apis.crm.schemas import CrmRateCardVersionCreate

T = TypeVar("T")

refdata_app = typer.Typer(
    help="Reference data: legal entities, periods, tax codes, partners, products, prices."
)
console = Console(stderr=True)


class Kind(StrEnum):
    LEGAL_ENTITIES = "legal-entities"
    PARTNERS = "partners"
    PRODUCTS = "products"
    PRICES = "prices"


class Output(StrEnum):
    TABLE = "table"
    JSON = "json"


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/] {message}")
    return typer.Exit(1)


def _run(work: Callable[[AsyncSession], Awaitable[T]], *, action: str | None = None) -> T:
    """`work` in one committed session; a change is recorded in the audit trail with it."""
    settings = get_settings()

    async def run() -> T:
        engine = create_engine(settings.database_url)
        try:
            await upgrade(engine)
            async with create_sessionmaker(engine)() as session:
                result = await work(session)
                if action is not None:
                    session.add(_audit_event(action, getattr(result, "id", None)))
                await session.commit()
                return result
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in error.errors()
        )
        raise _fail(problems) from None
    except LedgergateError as error:
        raise _fail(f"{error.detail} ({error.type_uri()})") from None


def _audit_event(action: str, object_id: str | None) -> AuditEventRow:
    return AuditEventRow(
        id=new_id("audit_event"),
        client_id=f"cli:{getpass.getuser()}"[:80],
        action=f"CLI refdata {action}"[:120],
        object_id=object_id,
        outcome="succeeded",
        status_code=200,
        request_hash=hashlib.sha256(action.encode()).hexdigest(),
    )


def _fields(pairs: list[str]) -> dict[str, str]:
    fields = {}
    for pair in pairs:
        name, separator, value = pair.partition("=")
        if not separator:
            raise _fail(f"--set takes field=value, not {pair!r}")
        fields[name.strip()] = value
    return fields


def _print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, default=str))


SetOption = Annotated[list[str], typer.Option("--set", help="field=value (repeat).")]
IfMatchOption = Annotated[
    int, typer.Option("--if-match", help="The version you read (as `show` prints it).")
]


@refdata_app.command("import")
def import_file(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="A .yaml or .csv file.")
    ],
    kind: Annotated[
        str | None, typer.Option(help=f"The list a CSV file holds: {', '.join(importer.KINDS)}.")
    ] = None,
) -> None:
    """Load reference data from a file in one transaction; what exists already is kept."""
    connections = get_settings().erp_connection_settings

    async def work(session: AsyncSession) -> dict[str, Any]:
        data = importer.parse_file(file, kind)
        return await importer.import_reference_data(session, data=data, erp_connections=connections)

    report = _run(work, action=f"import {file.name}")
    table = Table("list", "created", "existing")
    for name, counts in report.items():
        if counts:
            table.add_row(name, str(counts["created"]), str(counts["existing"]))
    Console().print(table)


@refdata_app.command("create")
def create(
    kind: Annotated[str, typer.Argument(help=f"One of {', '.join(importer.KINDS)}.")],
    fields: SetOption,
) -> None:
    """Create one row, as a one-line import (a period names its `legal_entity` code, a
    price its `product` name)."""
    if kind.replace("-", "_") not in importer.KINDS:
        raise _fail(f"no list {kind!r}: one of {', '.join(importer.KINDS)}")
    connections = get_settings().erp_connection_settings
    values = _fields(fields)

    async def work(session: AsyncSession) -> dict[str, Any]:
        row = importer.from_text(importer.LIST_MODELS[kind.replace("-", "_")], values)
        data = importer.ReferenceData.model_validate({kind.replace("-", "_"): [row]})
        return await importer.import_reference_data(session, data=data, erp_connections=connections)

    report = _run(work, action=f"create {kind}")
    counts = report[kind.replace("-", "_")]
    console.print("[green]created[/]" if counts["created"] else "[yellow]exists already[/]")


async def _read(session: AsyncSession, kind: Kind, object_id: str) -> BaseModel:
    if kind is Kind.LEGAL_ENTITIES:
        return LegalEntityResource.model_validate(
            await service.get_legal_entity(session, object_id)
        )
    if kind is Kind.PARTNERS:
        return Partner.model_validate(await service.get_partner(session, object_id))
    if kind is Kind.PRODUCTS:
        return Product.model_validate(await service.get_product(session, object_id))
    return Price.model_validate(await service.get_price(session, object_id))


async def _all(session: AsyncSession, kind: Kind) -> list[BaseModel]:
    if kind is Kind.LEGAL_ENTITIES:
        rows = await service.list_legal_entities(session)
        return [LegalEntityResource.model_validate(r) for r in rows]
    if kind is Kind.PARTNERS:
        return [Partner.model_validate(r) for r in await service.list_partners(session)]
    products = await service.list_products(session)
    if kind is Kind.PRODUCTS:
        return [Product.model_validate(r) for r in products]
    prices = [await service.list_prices(session, product.id) for product in products]
    return [Price.model_validate(price) for rows in prices for price in rows]


LIST_COLUMNS = {
    Kind.LEGAL_ENTITIES: (
        "id",
        "version",
        "code",
        "name",
        "functional_currency",
        "closed_period_policy",
        "erp_connection",
        "erp_company_id",
    ),
    Kind.PARTNERS: ("id", "version", "name", "status", "commission_plan"),
    Kind.PRODUCTS: ("id", "version", "name", "tier", "tax_code", "active"),
    Kind.PRICES: ("id", "version", "product_id", "currency", "unit_amount", "interval", "active"),
}


@refdata_app.command("list")
def list_objects(
    kind: Kind, output: Annotated[Output, typer.Option(help="table or json.")] = Output.TABLE
) -> None:
    """Every object of a kind."""

    async def work(session: AsyncSession) -> list[BaseModel]:
        return await _all(session, kind)

    objects = [o.model_dump(mode="json") for o in _run(work)]
    if output is Output.JSON:
        _print_json(objects)
        return
    table = Table(*LIST_COLUMNS[kind])
    for item in objects:
        table.add_row(*(str(item[column]) for column in LIST_COLUMNS[kind]))
    Console().print(table)


@refdata_app.command("show")
def show(kind: Kind, object_id: str) -> None:
    """One object as JSON, with its version (pass it back as `--if-match`)."""

    async def work(session: AsyncSession) -> BaseModel:
        return await _read(session, kind, object_id)

    _print_json(_run(work).model_dump(mode="json"))


@refdata_app.command("update")
def update(kind: Kind, object_id: str, fields: SetOption, if_match: IfMatchOption) -> None:
    """Change fields of an object you read at version `--if-match`."""
    values, tag = _fields(fields), service.etag(if_match)

    async def work(session: AsyncSession) -> BaseModel:
        if kind is Kind.LEGAL_ENTITIES:
            await service.update_legal_entity(
                session,
                object_id,
                data=LegalEntityUpdate.model_validate(from_text(LegalEntityUpdate, values)),
                if_match=tag,
                erp_connections=get_settings().erp_connection_settings,
            )
        elif kind is Kind.PARTNERS:
            data = PartnerUpdate.model_validate(from_text(PartnerUpdate, values))
            await service.update_partner(session, object_id, data=data, if_match=tag)
        elif kind is Kind.PRODUCTS:
            product = ProductUpdate.model_validate(from_text(ProductUpdate, values))
            await service.update_product(session, object_id, data=product, if_match=tag)
        else:
            price = PriceUpdate.model_validate(from_text(PriceUpdate, values))
            await service.update_price(session, object_id, data=price, if_match=tag)
        return await _read(session, kind, object_id)

    _print_json(_run(work, action=f"update {kind}").model_dump(mode="json"))


def _period_status(
    legal_entity_id: str, period_id: str, status: PeriodStatus, reason: str | None, version: int
) -> None:
    async def work(session: AsyncSession) -> LegalEntityResource:
        row = await service.set_period_status(
            session,
            legal_entity_id,
            period_id,
            status=status,
            reason=reason,
            if_match=service.etag(version),
        )
        return LegalEntityResource.model_validate(row)

    entity = _run(work, action=f"period {status} {period_id}")
    console.print(f"[green]{period_id} {status}[/]; {entity.code} is at version {entity.version}")


@refdata_app.command("close-period")
def close_period(
    legal_entity_id: str,
    period_id: str,
    if_match: IfMatchOption,
    reason: Annotated[str | None, typer.Option(help="Why, for the audit trail.")] = None,
) -> None:
    """Close an accounting period of a legal entity read at version `--if-match`."""
    _period_status(legal_entity_id, period_id, PeriodStatus.CLOSED, reason, if_match)


@refdata_app.command("reopen-period")
def reopen_period(
    legal_entity_id: str,
    period_id: str,
    if_match: IfMatchOption,
    reason: Annotated[str, typer.Option(help="Why it is reopened (required).")],
) -> None:
    """Reopen a closed accounting period, with the reason kept on the period."""
    _period_status(legal_entity_id, period_id, PeriodStatus.OPEN, reason, if_match)


@refdata_app.command("set-tax-code")
def set_tax_code(
    legal_entity_id: str, tax_code: str, erp_tax_code: str, if_match: IfMatchOption
) -> None:
    """Map a canonical tax code to the legal entity's ERP tax group."""

    async def work(session: AsyncSession) -> LegalEntityResource:
        row = await service.put_tax_code(
            session,
            legal_entity_id,
            tax_code,
            erp_tax_code=erp_tax_code,
            if_match=service.etag(if_match),
        )
        return LegalEntityResource.model_validate(row)

    _print_json(_run(work, action=f"tax-code {tax_code}").model_dump(mode="json"))


@refdata_app.command("add-rate-card-version")
def add_rate_card_version(
    partner_id: str,
    effective_from: Annotated[str, typer.Option(help="YYYY-MM-DD, after the latest version.")],
    rate: Annotated[list[str], typer.Option(help="tier=basis points (repeat).")],
    idempotency_key: Annotated[str, typer.Option(help="Makes a repeated command safe.")],
) -> None:
    """Add a version to the partner's commission plan in the CRM."""
    settings = get_settings()
    rates = [{"product_tier": t, "rate_bps": bps} for t, bps in _fields(rate).items()]

    async def run() -> dict[str, Any]:
        version = CrmRateCardVersionCreate.model_validate(
            {"effective_from": date.fromisoformat(effective_from), "rates": rates}
        )
        async with runtime(settings) as running:
            async with running.sessionmaker() as session:
                plan = (await service.get_partner(session, partner_id)).commission_plan
            result = await running.context.crm.add_rate_card_version(
                plan, version, idempotency_key=idempotency_key
            )
            async with running.sessionmaker.begin() as session:
                session.add(_audit_event(f"rate-card {plan}", partner_id))
            return result.model_dump(mode="json")

    try:
        _print_json(asyncio.run(run()))
    except (ValidationError, ValueError) as error:
        raise _fail(str(error)) from None
    except LedgergateError as error:
        raise _fail(f"{error.detail} ({error.type_uri()})") from None
