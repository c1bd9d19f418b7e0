"""`ledgergate refdata`: reference data from the command line, audited like the ops API.

Creation goes through the importer (`import FILE`, or `create KIND --set ...` for
one row), so a file and a command obey the same rules; changes name the version
they were made against, as `If-Match` does over HTTP, and the operator making them
(`--operator`), audited as every changing command is (`app.operator`).
"""

from __future__ import annotations

import asyncio
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

from app.cli_session import in_session
from app.experience.ops.refdata import importer, service
from app.experience.ops.refdata.importer import from_text
from app.experience.ops.refdata.schemas import (
    LegalEntityResource,
    LegalEntityUpdate,
    PartnerUpdate,
    PriceUpdate,
    ProductUpdate,
)
from app.operator import Operator, audited
from app.runtime import runtime
from core.canonical.catalog import Price, Product
from core.canonical.parties import Partner, PeriodStatus
from core.errors import LedgergateError
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


def _execute(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """`work` in one committed session; input it refuses is a one-line error (exit 1)."""
    try:
        return in_session(work)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in error.errors()
        )
        raise _fail(problems) from None


def _refused(call: Callable[[], T]) -> T:
    """`call()`; a problem it raises is the one-line error with its type (exit 1)."""
    try:
        return call()
    except LedgergateError as error:
        raise _fail(f"{error.detail} ({error.type_uri()})") from None


def _run(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """A read: `work` in one session."""
    return _refused(lambda: _execute(work))


def _change(
    operator: str,
    action: str,
    work: Callable[[str], T],
    *,
    object_id: str | None = None,
    arguments: object = None,
) -> T:
    """`work(correlation_id)` as the operator's, audited as `CLI refdata <action>`."""
    return _refused(
        lambda: audited(
            operator, f"refdata {action}", work, object_id=object_id, arguments=arguments
        )
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
    *,
    operator: Operator,
) -> None:
    """Load reference data from a file in one transaction; what exists already is kept."""
    connections = get_settings().erp_connection_settings

    async def work(session: AsyncSession) -> dict[str, Any]:
        data = importer.parse_file(file, kind)
        return await importer.import_reference_data(session, data=data, erp_connections=connections)

    report = _change(
        operator,
        f"import {file.name}",
        lambda _: _execute(work),
        arguments={"file": file.name, "kind": kind},
    )
    table = Table("list", "created", "existing")
    for name, counts in report.items():
        if counts:
            table.add_row(name, str(counts["created"]), str(counts["existing"]))
    Console().print(table)


@refdata_app.command("create")
def create(
    kind: Annotated[str, typer.Argument(help=f"One of {', '.join(importer.KINDS)}.")],
    fields: SetOption,
    operator: Operator,
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

    report = _change(
        operator, f"create {kind}", lambda _: _execute(work), arguments={"fields": values}
    )
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
def update(
    kind: Kind, object_id: str, fields: SetOption, if_match: IfMatchOption, operator: Operator
) -> None:
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

    updated = _change(
        operator,
        f"update {kind}",
        lambda _: _execute(work),
        object_id=object_id,
        arguments={"fields": values, "if_match": if_match},
    )
    _print_json(updated.model_dump(mode="json"))


def _period_status(
    legal_entity_id: str,
    period_id: str,
    status: PeriodStatus,
    reason: str | None,
    version: int,
    operator: str,
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

    entity = _change(
        operator,
        f"period {status} {period_id}",
        lambda _: _execute(work),
        object_id=legal_entity_id,
        arguments={"reason": reason, "if_match": version},
    )
    console.print(f"[green]{period_id} {status}[/]; {entity.code} is at version {entity.version}")


@refdata_app.command("close-period")
def close_period(
    legal_entity_id: str,
    period_id: str,
    if_match: IfMatchOption,
    operator: Operator,
    reason: Annotated[str | None, typer.Option(help="Why, for the audit trail.")] = None,
) -> None:
    """Close an accounting period of a legal entity read at version `--if-match`."""
    _period_status(legal_entity_id, period_id, PeriodStatus.CLOSED, reason, if_match, operator)


@refdata_app.command("reopen-period")
def reopen_period(
    legal_entity_id: str,
    period_id: str,
    if_match: IfMatchOption,
    reason: Annotated[str, typer.Option(help="Why it is reopened (required).")],
    operator: Operator,
) -> None:
    """Reopen a closed accounting period, with the reason kept on the period."""
    _period_status(legal_entity_id, period_id, PeriodStatus.OPEN, reason, if_match, operator)


@refdata_app.command("set-tax-code")
def set_tax_code(
    legal_entity_id: str,
    tax_code: str,
    erp_tax_code: str,
    if_match: IfMatchOption,
    operator: Operator,
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

    entity = _change(
        operator,
        f"tax-code {tax_code}",
        lambda _: _execute(work),
        object_id=legal_entity_id,
        arguments={"erp_tax_code": erp_tax_code, "if_match": if_match},
    )
    _print_json(entity.model_dump(mode="json"))


@refdata_app.command("add-rate-card-version")
def add_rate_card_version(
    partner_id: str,
    effective_from: Annotated[str, typer.Option(help="YYYY-MM-DD, after the latest version.")],
    rate: Annotated[list[str], typer.Option(help="tier=basis points (repeat).")],
    idempotency_key: Annotated[str, typer.Option(help="Makes a repeated command safe.")],
    operator: Operator,
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
            return result.model_dump(mode="json")

    def execute(_correlation_id: str) -> dict[str, Any]:
        try:
            return asyncio.run(run())
        except ValueError as error:  # a malformed date, or a `ValidationError`
            raise _fail(str(error)) from None

    arguments = {"effective_from": effective_from, "rates": rates, "key": idempotency_key}
    _print_json(
        _change(
            operator,
            "add-rate-card-version",
            execute,
            object_id=partner_id,
            arguments=arguments,
        )
    )
