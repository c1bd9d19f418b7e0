"""Apply Alembic migrations programmatically (app start-up, CLI and tests all use this).

Alembic (with Mako) is imported only when a migration runs: a gateway worker started
with `LEDGERGATE_MIGRATE_ON_START=false` never holds it in memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"

# Any constant will do: it keeps replicas that start together from migrating at once.
_PG_MIGRATION_LOCK = 7_301_964_221


if TYPE_CHECKING:
    from alembic.config import Config


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def _upgrade(connection: Connection, revision: str) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
    config = alembic_config()
    config.attributes["connection"] = connection
    from alembic import command

    command.upgrade(config, revision)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database behind `engine` to `revision`."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade, revision)
