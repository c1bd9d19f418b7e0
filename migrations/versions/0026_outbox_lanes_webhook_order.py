"""the relay reads unpublished events through a partial index and splits them by lane;
webhook messages keep their subject and position, so deliveries keep order per subject

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06 10:00:00.000000
"""

import json
import zlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LANES = 16  # events.lanes.LANES: the lane of a subject must not change
UNPUBLISHED = sa.text("published_at IS NULL")
PENDING = sa.text("status = 'pending'")


def _lane(subject: str) -> int:
    return zlib.crc32(subject.encode()) % LANES


def _lanes(bind: sa.Connection) -> None:
    """Unpublished events get their subject's lane (published ones are never claimed)."""
    rows = bind.execute(
        sa.text("SELECT sequence, subject FROM event_outbox WHERE published_at IS NULL")
    ).all()
    if rows:
        bind.execute(
            sa.text("UPDATE event_outbox SET lane = :lane WHERE sequence = :sequence"),
            [{"lane": _lane(subject), "sequence": sequence} for sequence, subject in rows],
        )


def _queues(bind: sa.Connection) -> None:
    """Existing messages: the subject of their event, positions in the order kept."""
    rows = bind.execute(
        sa.text("SELECT id, payload FROM webhook_messages ORDER BY created_at, id")
    ).all()
    if rows:
        bind.execute(
            sa.text(
                "UPDATE webhook_messages SET subject = :subject, position = :position "
                "WHERE id = :id"
            ),
            [
                {"subject": json.loads(payload)["subject"], "position": number, "id": message}
                for number, (message, payload) in enumerate(rows, start=1)
            ],
        )


def upgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table("event_outbox") as batch:
        batch.add_column(sa.Column("lane", sa.SmallInteger(), nullable=False, server_default="0"))
        batch.drop_index("ix_event_outbox_pending")
    _lanes(bind)
    with op.batch_alter_table("event_outbox") as batch:
        batch.alter_column("lane", server_default=None)
    op.create_index(
        "ix_event_outbox_unpublished",
        "event_outbox",
        ["sequence"],
        postgresql_where=UNPUBLISHED,
        sqlite_where=UNPUBLISHED,
    )

    with op.batch_alter_table("webhook_messages") as batch:
        batch.add_column(
            sa.Column("subject", sa.String(length=120), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("position", sa.BigInteger(), nullable=False, server_default="0"))
        batch.drop_index("ix_webhook_messages_due")
    _queues(bind)
    with op.batch_alter_table("webhook_messages") as batch:
        batch.alter_column("subject", server_default=None)
        batch.alter_column("position", server_default=None)
        batch.create_index("ix_webhook_messages_position", ["position"])
        batch.create_index(
            "ix_webhook_messages_pending",
            ["position"],
            postgresql_where=PENDING,
            sqlite_where=PENDING,
        )
        batch.create_index(
            "ix_webhook_messages_queue",
            ["endpoint_id", "subject", "position"],
            postgresql_where=PENDING,
            sqlite_where=PENDING,
        )


def downgrade() -> None:
    with op.batch_alter_table("webhook_messages") as batch:
        batch.drop_index("ix_webhook_messages_queue")
        batch.drop_index("ix_webhook_messages_pending")
        batch.drop_index("ix_webhook_messages_position")
        batch.create_index("ix_webhook_messages_due", ["status", "next_attempt_at"])
        batch.drop_column("position")
        batch.drop_column("subject")
    op.drop_index("ix_event_outbox_unpublished", table_name="event_outbox")
    with op.batch_alter_table("event_outbox") as batch:
        batch.create_index("ix_event_outbox_pending", ["published_at", "sequence"])
        batch.drop_column("lane")
