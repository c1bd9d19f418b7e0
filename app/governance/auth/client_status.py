"""Reading an API client's status, as every governed request does: one round trip.

Through the gateway's pool the read would cost six: the pool's ping before use (in a
transaction of its own on PostgreSQL: `BEGIN`, `;`, `ROLLBACK`), then the read in a
transaction (`BEGIN`, `SELECT`, `ROLLBACK`). Here a small pool of its own runs each
statement in autocommit and pings nothing: a connection the server dropped (a restart)
fails the read, is thrown away, and the read is made once more on a fresh connection,
so a restart costs no request its answer.
"""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db import create_autocommit_engine, table_of
from core.models.api_client import ApiClientRow

# Each read holds a connection for one round trip: a few serve many requests in flight.
POOL_SIZE = 4

_CLIENTS = table_of(ApiClientRow)
_STATUS = select(_CLIENTS.c.status).where(_CLIENTS.c.id == bindparam("client_id"))


class ClientStatusReader:
    def __init__(self, url: URL, *, pool_timeout: float = 30.0) -> None:
        self.engine: AsyncEngine = create_autocommit_engine(
            url, pool_size=POOL_SIZE, pool_timeout=pool_timeout
        )

    async def status(self, client_id: str) -> str | None:
        """The client's status, None for an unknown client."""
        try:
            return await self._read(client_id)
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
            return await self._read(client_id)  # on a fresh connection

    async def _read(self, client_id: str) -> str | None:
        async with self.engine.connect() as connection:
            status: str | None = await connection.scalar(_STATUS, {"client_id": client_id})
            return status

    async def aclose(self) -> None:
        await self.engine.dispose()
