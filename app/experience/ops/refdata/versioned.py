"""A reference resource served with its version: the route declarations every one of them
repeats (scopes, problems, the `ETag` header), and the answer that tags the row read,
created (with its `Location`) or changed under `If-Match`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from fastapi import APIRouter, Response
from fastapi.types import DecoratedCallable
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.experience.ops.refdata.service import etag
from core.auth import requires
from core.problems import problem_responses
from process_apis.deps import Transaction

READ = [requires("refdata:read")]
WRITE = [requires("refdata:write")]
LIST_ERRORS = problem_responses(401, 403)
READ_ERRORS = problem_responses(401, 403, 404, 422)
CREATE_ERRORS = problem_responses(400, 401, 403, 404, 409, 413, 415, 422)
CHANGE_ERRORS = problem_responses(400, 401, 403, 404, 409, 412, 413, 415, 422, 428)
ETAG = {"ETag": {"description": "The object's version.", "schema": {"type": "string"}}}

Model = TypeVar("Model", bound=BaseModel)


class VersionedRow(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def version(self) -> int: ...


Write = Callable[[AsyncSession], Awaitable[VersionedRow]]


@dataclass(frozen=True)
class VersionedResource(Generic[Model]):
    """One resource: its router, its schema and where its objects live (`/ops/v1/prices`)."""

    router: APIRouter
    model: type[Model]
    location: str

    def list_route(
        self, path: str, *, operation_id: str, summary: str, missing_parent: bool = False
    ) -> Callable[[DecoratedCallable], DecoratedCallable]:
        """A list of the resource (under a parent that may be missing: `404`)."""
        return self.router.get(
            path,
            response_model=list[self.model],  # type: ignore[name-defined]
            operation_id=operation_id,
            summary=summary,
            dependencies=READ,
            responses=READ_ERRORS if missing_parent else LIST_ERRORS,
        )

    def read_route(
        self, path: str, *, operation_id: str, summary: str
    ) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self._route(
            "GET", path, operation_id, summary, READ, {200: {"headers": ETAG}, **READ_ERRORS}
        )

    def create_route(
        self, path: str, *, operation_id: str, summary: str
    ) -> Callable[[DecoratedCallable], DecoratedCallable]:
        responses = {201: {"headers": ETAG}, **CREATE_ERRORS}
        return self._route("POST", path, operation_id, summary, WRITE, responses, 201)

    def change_route(
        self,
        path: str,
        *,
        operation_id: str,
        summary: str,
        method: str = "PATCH",
        status_code: int | None = None,
    ) -> Callable[[DecoratedCallable], DecoratedCallable]:
        """A write under `If-Match` (`status_code` when it is not `200`)."""
        responses = {status_code or 200: {"headers": ETAG}, **CHANGE_ERRORS}
        return self._route(method, path, operation_id, summary, WRITE, responses, status_code)

    def tagged(self, response: Response, row: VersionedRow) -> Model:
        """The row as the schema, its version as `ETag`."""
        response.headers["ETag"] = etag(row.version)
        return self.model.model_validate(row)

    async def created(self, transaction: Transaction, response: Response, write: Write) -> Model:
        """`write` in a transaction; the new row's `Location` and `ETag`."""
        async with transaction() as session:
            row = await write(session)
        response.headers["Location"] = f"{self.location}/{row.id}"
        return self.tagged(response, row)

    async def changed(self, transaction: Transaction, response: Response, write: Write) -> Model:
        """`write` (which checks `If-Match`) in a transaction; the row's new `ETag`."""
        async with transaction() as session:
            row = await write(session)
        return self.tagged(response, row)

    def _route(
        self,
        method: str,
        path: str,
        operation_id: str,
        summary: str,
        dependencies: list[Any],
        responses: dict[int | str, dict[str, Any]],
        status_code: int | None = None,
    ) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self.router.api_route(
            path,
            methods=[method],
            response_model=self.model,
            status_code=status_code,
            operation_id=operation_id,
            summary=summary,
            dependencies=dependencies,
            responses=responses,
        )
