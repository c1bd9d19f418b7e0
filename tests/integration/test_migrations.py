"""Alembic is the only way the schema is made: it must match the models on both databases."""

import json
from datetime import timedelta
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from app.governance.auth.keys import generate_key
from app.seed import demo_id, seed_demo_estate
from core.db import create_engine, create_sessionmaker
from core.key_encryption import KeyEncryption
from core.migrate import upgrade
from core.models import Base
from core.models.base import utcnow
from core.settings import AuthSettings
from events.lanes import lane_of


def _drift(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_the_migrated_schema_matches_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(_drift) == []
    finally:
        await engine.dispose()


async def test_migrating_twice_is_a_no_op(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert {t.name for t in Base.metadata.sorted_tables} <= tables
        assert "alembic_version" in tables
    finally:
        await engine.dispose()


async def test_existing_signing_keys_are_encrypted_and_partner_grants_narrowed(
    tmp_path: Path,
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    private = generate_key("ES256").as_dict(private=True)
    try:
        await upgrade(engine, "0006")
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO partners (id, name, status, commission_plan, version, created_at, "
                    "updated_at) VALUES ('prt_1', 'P', 'active', 'reseller-20', 1, :now, :now)"
                ),
                {"now": utcnow()},
            )
            await connection.execute(
                text(
                    "INSERT INTO signing_keys (kid, algorithm, private_jwk, public_jwk, "
                    "created_at) VALUES ('k1', 'ES256', :private, '{}', :now)"
                ),
                {"private": json.dumps(private), "now": utcnow()},
            )
            await connection.execute(
                text(
                    "INSERT INTO api_clients (id, name, secret_hash, scopes, partner_id, tier, "
                    "money_limits, status, version, created_at, updated_at) VALUES ('c1', 'c', "
                    "'x', :scopes, 'prt_1', 'standard', '{}', 'active', 1, :now, :now)"
                ),
                {"scopes": json.dumps(["invoices:read", "partner:read"]), "now": utcnow()},
            )
        await upgrade(engine)
        async with engine.connect() as connection:
            stored = (await connection.execute(text("SELECT * FROM signing_keys"))).one()
            scopes = await connection.scalar(text("SELECT scopes FROM api_clients"))
    finally:
        await engine.dispose()
    assert private["d"] not in repr(stored)
    assert KeyEncryption.from_settings(AuthSettings()).decrypt(stored.private_jwk_encrypted) == (
        private
    )
    assert json.loads(scopes) == ["partner:read"]


async def test_waiting_events_get_their_lane_and_messages_their_queue(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    now = utcnow()
    try:
        await upgrade(engine, "0025")
        async with engine.begin() as connection:
            for sequence, subject, published in ((1, "inv_1", now), (2, "inv_2", None)):
                await connection.execute(
                    text(
                        "INSERT INTO event_outbox (sequence, event_id, type, subject, time, "
                        "envelope, recorded_at, published_at) VALUES (:sequence, :id, 't', "
                        ":subject, :now, '{}', :now, :published)"
                    ),
                    {"sequence": sequence, "id": f"evt_{sequence}", "subject": subject}
                    | {"now": now, "published": published},
                )
            await connection.execute(
                text(
                    "INSERT INTO webhook_endpoints (id, client_id, url, description, event_types, "
                    "status, secret_encrypted, consecutive_failures, created_at, updated_at) "
                    "VALUES ('ep_1', 'c', 'https://h.example.com', '', '[]', 'enabled', 'x', 0, "
                    ":now, :now)"
                ),
                {"now": now},
            )
            for n, created in ((1, now), (2, now - timedelta(minutes=1))):
                await connection.execute(
                    text(
                        "INSERT INTO webhook_messages (id, endpoint_id, event_id, event_type, "
                        "event_time, payload, status, attempts, next_attempt_at, created_at) "
                        "VALUES (:id, 'ep_1', :event, 't', :now, :payload, 'pending', 0, :now, "
                        ":created)"
                    ),
                    {"id": f"msg_{n}", "event": f"evt_{n}", "now": now, "created": created}
                    | {"payload": json.dumps({"subject": f"inv_{n}"})},
                )
        await upgrade(engine)
        async with engine.connect() as connection:
            lanes = dict(
                (await connection.execute(text("SELECT sequence, lane FROM event_outbox"))).all()
            )
            queues = (
                await connection.execute(
                    text("SELECT id, subject, position FROM webhook_messages ORDER BY id")
                )
            ).all()
    finally:
        await engine.dispose()
    assert lanes == {1: 0, 2: lane_of("inv_2")}  # a published event is never claimed again
    assert [tuple(row) for row in queues] == [("msg_1", "inv_1", 2), ("msg_2", "inv_2", 1)]


async def test_runs_get_the_legal_entity_of_their_subject(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    now = utcnow()
    acme = demo_id("customer", 1)
    try:
        await upgrade(engine, "0033")
        await seed_demo_estate(create_sessionmaker(engine))
        async with engine.begin() as connection:
            for run, subject in (("run_1", acme), ("run_2", "inv_unknown")):
                await connection.execute(
                    text(
                        "INSERT INTO workflow_runs (id, workflow, subject_id, status, params, "
                        "attempts, version, created_at, updated_at) VALUES (:id, 'customer_sync', "
                        ":subject, 'failed', '{}', 1, 1, :now, :now)"
                    ),
                    {"id": run, "subject": subject, "now": now},
                )
        await upgrade(engine)
        async with engine.connect() as connection:
            entities = dict(
                (
                    await connection.execute(text("SELECT id, legal_entity_id FROM workflow_runs"))
                ).all()
            )
    finally:
        await engine.dispose()
    assert entities == {"run_1": demo_id("legal_entity", 1), "run_2": None}
