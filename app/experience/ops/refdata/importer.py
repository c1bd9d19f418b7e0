"""A first load of reference data from a YAML or CSV file, in one transaction.

The file's lists are the ops API's create bodies, flat, with references by natural
key: a period or tax code names its legal entity's `legal_entity` code, a price its
product's `product` name. A YAML file holds any of the lists; a CSV file holds one,
named by the file's stem (`periods.csv`) or the caller. What exists already (a legal
entity with the code, a period with the start, a partner or product with the name, a
price with the currency, interval and amount) is left as it is, so a load can be
repeated after fixing the line that stopped it.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Collection
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.experience.ops.refdata import service
from app.experience.ops.refdata.schemas import (
    LegalEntityCreate,
    PartnerCreate,
    PeriodCreate,
    PriceCreate,
    ProductCreate,
)
from core.canonical.base import Code, InputModel, ShortText
from core.errors import BadRequest, NotFound
from core.models.legal_entity import LegalEntityRow
from core.models.partner import PartnerRow
from core.models.price import PriceRow
from core.models.product import ProductRow

Kind = Literal["legal_entities", "periods", "tax_codes", "partners", "products", "prices"]
KINDS: tuple[str, ...] = get_args(Kind)


class PeriodImport(PeriodCreate):
    legal_entity: Code = Field(description="The legal entity's code.")


class TaxCodeImport(InputModel):
    legal_entity: Code
    tax_code: Code
    erp_tax_code: Code


class PriceImport(PriceCreate):
    product: ShortText = Field(description="The product's name.")


class ReferenceData(InputModel):
    """In the order they are loaded: a row may refer to the rows of an earlier list."""

    legal_entities: list[LegalEntityCreate] = []
    periods: list[PeriodImport] = []
    tax_codes: list[TaxCodeImport] = []
    partners: list[PartnerCreate] = []
    products: list[ProductCreate] = []
    prices: list[PriceImport] = []


class UnreadableFile(BadRequest):
    slug = "unreadable-reference-data-file"
    title = "The reference data file cannot be read"


def _json_types(schema: dict[str, Any]) -> set[str]:
    options = schema.get("anyOf", [schema])
    return {option["type"] for option in options if "type" in option}


def from_text(model: type[BaseModel], values: dict[str, str]) -> dict[str, Any]:
    """Text values (a CSV cell, a command-line `--set`) as the JSON types the model takes:
    the API accepts only real booleans and integers, so the text is converted first."""
    properties = model.model_json_schema()["properties"]
    converted: dict[str, Any] = {}
    for name, value in values.items():
        types = _json_types(properties.get(name, {}))
        if "boolean" in types and value.lower() in {"true", "false"}:
            converted[name] = value.lower() == "true"
        elif "integer" in types and value.lstrip("-").isdigit():
            converted[name] = int(value)
        else:
            converted[name] = value
    return converted


LIST_MODELS: dict[str, type[BaseModel]] = {
    "legal_entities": LegalEntityCreate,
    "periods": PeriodImport,
    "tax_codes": TaxCodeImport,
    "partners": PartnerCreate,
    "products": ProductCreate,
    "prices": PriceImport,
}


def parse_file(path: Path, kind: str | None = None) -> ReferenceData:
    """Read a `.yaml`/`.yml` file of lists, or a `.csv` file of one list (`kind`)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in {".yaml", ".yml"}:
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise UnreadableFile(f"{path.name} is not valid YAML: {error}") from None
        return ReferenceData.model_validate(document or {})
    if path.suffix.lower() == ".csv":
        kind = kind or path.stem
        if kind not in KINDS:
            raise UnreadableFile(f"say which list {path.name} holds: one of {', '.join(KINDS)}")
        rows = [
            from_text(
                LIST_MODELS[kind],
                {name: value for name, value in row.items() if value not in (None, "")},
            )
            for row in csv.DictReader(io.StringIO(text))
        ]
        return ReferenceData.model_validate({kind: rows})
    raise UnreadableFile(f"{path.name}: reference data files are .yaml, .yml or .csv")


async def _entity_by_code(session: AsyncSession, code: str) -> LegalEntityRow:
    entity_id = await session.scalar(select(LegalEntityRow.id).where(LegalEntityRow.code == code))
    if entity_id is None:
        raise NotFound(f"no legal entity with code {code}")
    return await service.get_legal_entity(session, entity_id)


async def _id_by_name(
    session: AsyncSession, model: type[PartnerRow] | type[ProductRow], name: str
) -> str | None:
    return await session.scalar(select(model.id).where(model.name == name).limit(1))


async def import_reference_data(
    session: AsyncSession, *, data: ReferenceData, erp_connections: Collection[str]
) -> dict[str, Counter[str]]:
    """Create what is missing; per list, how many rows were `created` and `existing`."""
    report: dict[str, Counter[str]] = {kind: Counter() for kind in KINDS}

    def count(kind: str, created: bool) -> None:
        report[kind]["created" if created else "existing"] += 1

    for entity in data.legal_entities:
        exists = await session.scalar(
            select(LegalEntityRow.id).where(LegalEntityRow.code == entity.code)
        )
        if exists is None:
            await service.create_legal_entity(session, data=entity, erp_connections=erp_connections)
        count("legal_entities", exists is None)
    for period in data.periods:
        row = await _entity_by_code(session, period.legal_entity)
        missing = all(p.starts_on != period.starts_on for p in row.periods)
        if missing:
            new_period = PeriodCreate.model_validate(period.model_dump(exclude={"legal_entity"}))
            await service.add_period(session, row.id, data=new_period, if_match="*")
        count("periods", missing)
    for mapping in data.tax_codes:
        row = await _entity_by_code(session, mapping.legal_entity)
        current = {m.tax_code: m.erp_tax_code for m in row.tax_codes}
        missing = current.get(mapping.tax_code) != mapping.erp_tax_code
        if missing:
            await service.put_tax_code(
                session,
                row.id,
                mapping.tax_code,
                erp_tax_code=mapping.erp_tax_code,
                if_match="*",
            )
        count("tax_codes", missing)
    for partner in data.partners:
        missing = await _id_by_name(session, PartnerRow, partner.name) is None
        if missing:
            await service.create_partner(session, data=partner)
        count("partners", missing)
    for product in data.products:
        missing = await _id_by_name(session, ProductRow, product.name) is None
        if missing:
            await service.create_product(session, data=product)
        count("products", missing)
    for price in data.prices:
        product_id = await _id_by_name(session, ProductRow, price.product)
        if product_id is None:
            raise NotFound(f"no product named {price.product}")
        same: dict[str, Any] = {
            "currency": price.currency,
            "interval": price.interval,
            "unit_amount": price.unit_amount,
            "meter": price.metering.meter if price.metering else None,
        }
        existing = await session.scalar(
            select(PriceRow.id).filter_by(product_id=product_id, **same).limit(1)
        )
        if existing is None:
            new_price = PriceCreate.model_validate(price.model_dump(exclude={"product"}))
            await service.create_price(session, product_id, data=new_price)
        count("prices", existing is None)
    return report
