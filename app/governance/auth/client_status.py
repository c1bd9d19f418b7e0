"""An API client's status: known current without a read, or read in one round trip.

Where the rate limits count in Redis, every gateway shares a version of the clients'
statuses (`VERSION_KEY`), read in the round trip that counts each request: a status read
under a version and the same version read again is still the status, and whatever
changes a status (`ledgergate clients disable`, the start-up that disables the demo
clients) sets a fresh version once its change is committed (`announce_status_change`),
so every gateway reads the status again on its next request. Without Redis there is no
shared version and the status is read on every request.

Through the gateway's pool the read would cost six: the pool's ping before use (in a
transaction of its own on PostgreSQL: `BEGIN`, `;`, `ROLLBACK`), then the read in a
transaction (`BEGIN`, `SELECT`, `ROLLBACK`). Here a small pool of its own runs each
statement in autocommit and pings nothing: a connection the server dropped (a restart)
fails the read, is thrown away, and the read is made once more on a fresh connection,
so a restart costs no request its answer.
"""

from __future__ import annotations

import logging

from sqlalchemy import bindparam, select
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.governance.rate_window import fresh_version, redis_url
from core.db import create_autocommit_engine, table_of
from core.models.api_client import ApiClientRow

logger = logging.getLogger(__name__)

# Each read holds a connection for one round trip: a few serve many requests in flight.
POOL_SIZE = 4
VERSION_KEY = "ledgergate:api-clients:version"

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


async def announce_status_change(storage_url: str) -> bool:
    """After a client's status change is committed: every gateway counting in the same
    Redis reads its clients' statuses again on its next request (without Redis they read
    them on every request). False if Redis could not be told: gateways then see the
    change once their cached grants expire (`auth.client_cache_seconds`)."""
    url = redis_url(storage_url)
    if url is None:
        return True
    from redis.asyncio import Redis  # here: a gateway counting in memory never loads it

    redis = Redis.from_url(url)
    try:
        await redis.set(VERSION_KEY, fresh_version())
    except Exception as error:  # Redis unreachable: the change is committed all the same
        logger.error("auth.client_status_unannounced", extra={"error": repr(error)})
        return False
    finally:
        await redis.aclose()
    return True
