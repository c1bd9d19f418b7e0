"""Alembic migrations: the only way Ledgergate's schema is created or changed."""
