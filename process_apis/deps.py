"""What process routers need from the composition root, typed and injected per request."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from core.auth import ANONYMOUS, Principal, state_of
from core.errors import VersionConflict
from core.models.base import utcnow
from core.settings import Settings
from process_apis.cache import TtlCache
from system_apis.billing.port import BillingPort
from system_apis.crm.port import CrmPort
from system_apis.erp.port import ErpPort
from system_apis.support.port import SupportPort

# How long a worker trusts the tax groups it read from an ERP company. A code missing
# from them is always looked up afresh, so only a removed tax group can go unseen this long.
ERP_TAX_CODES_TTL_SECONDS = 60.0


def utc_today() -> date:
    return utcnow().date()


@dataclass(frozen=True)
class ProcessContext:
    """Set on `app.state.process` by `create_app`; one per application."""

    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    erp: ErpPort
    billing: BillingPort
    crm: CrmPort
    support: SupportPort
    # An ERP company's tax group codes, as its invoices are checked against them.
    erp_tax_codes: TtlCache[str, frozenset[str]] = field(
        default_factory=lambda: TtlCache(ttl=ERP_TAX_CODES_TTL_SECONDS)
    )
    # Today's date (UTC): the calendar that decides which months may be settled.
    today: Callable[[], date] = utc_today


# The dependencies below are `async` though they await nothing: FastAPI runs a plain
# function dependency on a worker thread, a thread hop per request for reading an attribute.
async def get_context(request: Request) -> ProcessContext:
    return context_of(request)


def context_of(request: Request) -> ProcessContext:
    context: ProcessContext = request.app.state.process
    return context


ContextDep = Annotated[ProcessContext, Depends(get_context)]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request for reads (from the request's app: one dependency, not two)."""
    context: ProcessContext = request.app.state.process
    async with context.sessionmaker() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


@dataclass(frozen=True)
class Transaction:
    """Opens the request's write transactions: committed when the block ends, rolled back on
    an error; losing an optimistic-concurrency race is a 409 `version-conflict`."""

    sessionmaker: async_sessionmaker[AsyncSession]

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[AsyncSession]:
        try:
            async with self.sessionmaker.begin() as session:
                yield session
        except StaleDataError:
            raise VersionConflict(
                "the object was changed by another request; read it again"
            ) from None


async def get_transaction(context: ContextDep) -> Transaction:
    return Transaction(context.sessionmaker)


TransactionDep = Annotated[Transaction, Depends(get_transaction)]


@dataclass(frozen=True)
class Caller:
    """Who asked: the API client, its principal, and the request's correlation id."""

    client_id: str
    principal: Principal
    correlation_id: str | None


async def get_caller(request: Request) -> Caller:
    return caller_of(request)


def caller_of(request: Request) -> Caller:
    """The caller as the edge authenticated it (`anonymous` where it set no client)."""
    state = state_of(request)
    return Caller(
        client_id=state.get("client_id") or "anonymous",
        principal=state.get("principal") or ANONYMOUS,
        correlation_id=state.get("correlation_id"),
    )


CallerDep = Annotated[Caller, Depends(get_caller)]
