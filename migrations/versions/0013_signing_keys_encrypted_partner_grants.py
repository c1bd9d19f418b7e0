"""token signing keys encrypted at rest under the key-encryption key; partner-bound
clients keep only partner scopes

The private JWKs are encrypted with the key-encryption key of the environment running
the migration (`LEDGERGATE_AUTH__KEY_ENCRYPTION_KEY` or `..._FILE`), so run it with the
same configuration as the gateway. A partner-bound client loses any scope outside the
partner portal: those scopes read other partners' data.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 03:40:00.000000
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.key_encryption import KeyEncryption
from core.scopes import PARTNER_SCOPES
from core.settings import Settings

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

signing_keys = sa.table(
    "signing_keys",
    sa.column("kid", sa.String),
    sa.column("private_jwk", sa.JSON),
    sa.column("private_jwk_encrypted", sa.Text),
)
api_clients = sa.table(
    "api_clients",
    sa.column("id", sa.String),
    sa.column("partner_id", sa.String),
    sa.column("scopes", sa.JSON),
)


def _encryption() -> KeyEncryption:
    return KeyEncryption.from_settings(Settings().auth)


def upgrade() -> None:
    with op.batch_alter_table("signing_keys") as batch:
        batch.add_column(sa.Column("private_jwk_encrypted", sa.Text(), nullable=True))
    connection = op.get_bind()
    encryption = _encryption()
    keys = connection.execute(sa.select(signing_keys.c.kid, signing_keys.c.private_jwk)).all()
    for kid, private in keys:
        jwk = json.loads(private) if isinstance(private, str) else private
        connection.execute(
            signing_keys.update()
            .where(signing_keys.c.kid == kid)
            .values(private_jwk_encrypted=encryption.encrypt(jwk))
        )
    with op.batch_alter_table("signing_keys") as batch:
        batch.alter_column("private_jwk_encrypted", existing_type=sa.Text(), nullable=False)
        batch.drop_column("private_jwk")
    bound = connection.execute(
        sa.select(api_clients.c.id, api_clients.c.scopes).where(
            api_clients.c.partner_id.is_not(None)
        )
    ).all()
    for client_id, scopes in bound:
        granted = json.loads(scopes) if isinstance(scopes, str) else scopes
        kept = sorted(set(granted) & PARTNER_SCOPES)
        if kept != sorted(granted):
            connection.execute(
                api_clients.update().where(api_clients.c.id == client_id).values(scopes=kept)
            )


def downgrade() -> None:
    with op.batch_alter_table("signing_keys") as batch:
        batch.add_column(sa.Column("private_jwk", sa.JSON(), nullable=True))
    connection = op.get_bind()
    encryption = _encryption()
    rows = connection.execute(
        sa.select(signing_keys.c.kid, signing_keys.c.private_jwk_encrypted)
    ).all()
    for kid, encrypted in rows:
        connection.execute(
            signing_keys.update()
            .where(signing_keys.c.kid == kid)
            .values(private_jwk=encryption.decrypt(encrypted))
        )
    with op.batch_alter_table("signing_keys") as batch:
        batch.alter_column("private_jwk", existing_type=sa.JSON(), nullable=False)
        batch.drop_column("private_jwk_encrypted")
