"""the transactional outbox of canonical events, what each sink has taken, and (PostgreSQL)
a trigger that wakes the relay with NOTIFY when events are recorded

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 07:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEQUENCE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
CHANNEL = "ledgergate_outbox"  # events.wakeup.CHANNEL

NOTIFY_FUNCTION = f"""
CREATE OR REPLACE FUNCTION ledgergate_outbox_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', '');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    op.create_table(
        "event_outbox",
        sa.Column("sequence", SEQUENCE, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("type", sa.String(length=120), nullable=False),
        sa.Column("subject", sa.String(length=120), nullable=False),
        sa.Column("partner_id", sa.String(length=40), nullable=True),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("envelope", sa.JSON(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("sequence", name=op.f("pk_event_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_event_outbox_event_id")),
    )
    op.create_index("ix_event_outbox_pending", "event_outbox", ["published_at", "sequence"])
    op.create_index("ix_event_outbox_subject", "event_outbox", ["subject", "sequence"])
    op.create_index(op.f("ix_event_outbox_type"), "event_outbox", ["type"])
    op.create_table(
        "event_publications",
        sa.Column("sequence", SEQUENCE, nullable=False),
        sa.Column("sink", sa.String(length=40), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["sequence"],
            ["event_outbox.sequence"],
            name=op.f("fk_event_publications_sequence_event_outbox"),
        ),
        sa.PrimaryKeyConstraint("sequence", "sink", name=op.f("pk_event_publications")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(NOTIFY_FUNCTION)
        op.execute(
            "CREATE TRIGGER event_outbox_notify AFTER INSERT ON event_outbox "
            "FOR EACH STATEMENT EXECUTE FUNCTION ledgergate_outbox_notify()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS event_outbox_notify ON event_outbox")
        op.execute("DROP FUNCTION IF EXISTS ledgergate_outbox_notify()")
    op.drop_table("event_publications")
    op.drop_index(op.f("ix_event_outbox_type"), table_name="event_outbox")
    op.drop_index("ix_event_outbox_subject", table_name="event_outbox")
    op.drop_index("ix_event_outbox_pending", table_name="event_outbox")
    op.drop_table("event_outbox")
