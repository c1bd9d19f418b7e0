"""`/v1/legal-entities`: the companies invoices are issued from, and their calendars."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from core.auth import requires
from core.canonical.parties import LegalEntity
from core.ids import id_pattern
from core.problems import problem_responses
from process_apis.deps import SessionDep
from process_apis.legal_entities import repository

LegalEntityID = Annotated[str, Path(pattern=id_pattern("legal_entity"))]

router = APIRouter(prefix="/v1/legal-entities", tags=["legal-entities"])


@router.get(
    "",
    response_model=list[LegalEntity],
    operation_id="legal-entities-list",
    dependencies=[requires("legal_entities:read")],
    summary="List legal entities",
    responses=problem_responses(401, 403),
)
async def list_legal_entities(session: SessionDep) -> list[LegalEntity]:
    """Every legal entity with its currency, closed-period policy and accounting periods."""
    return [
        LegalEntity.model_validate(row) for row in await repository.list_legal_entities(session)
    ]


@router.get(
    "/{legal_entity_id}",
    response_model=LegalEntity,
    operation_id="legal-entities-get",
    dependencies=[requires("legal_entities:read")],
    summary="Get a legal entity",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_legal_entity(legal_entity_id: LegalEntityID, session: SessionDep) -> LegalEntity:
    """One legal entity with its accounting periods."""
    return LegalEntity.model_validate(await repository.get_legal_entity(session, legal_entity_id))
