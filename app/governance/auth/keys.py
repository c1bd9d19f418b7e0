"""The signing key ring, kept in the database so every replica signs and verifies alike.

One key signs new tokens; after a rotation the previous key stops signing but stays
published (and accepted) until every token it signed has expired, so a rollover
never rejects a valid token. Replicas reload the ring periodically and at once when
they meet an unknown `kid`.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

from joserfc import jwk
from joserfc.jwk import KeyParameters
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.key_encryption import KeyEncryption
from core.models.base import utcnow
from core.models.signing_key import SigningKeyRow

Key = jwk.ECKey | jwk.RSAKey


def generate_key(algorithm: str) -> Key:
    parameters: KeyParameters = {"kid": uuid.uuid4().hex, "alg": algorithm, "use": "sig"}
    if algorithm == "ES256":
        return jwk.ECKey.generate_key("P-256", parameters=parameters, private=True)
    return jwk.RSAKey.generate_key(2048, parameters=parameters, private=True)


def key_row(key: Key, algorithm: str, encryption: KeyEncryption) -> SigningKeyRow:
    return SigningKeyRow(
        kid=key.kid,
        algorithm=algorithm,
        private_jwk_encrypted=encryption.encrypt(dict(key.as_dict(private=True))),
        public_jwk=key.as_dict(private=False),
    )


async def rotate_keys(
    session: AsyncSession, *, algorithm: str, token_ttl: timedelta, encryption: KeyEncryption
) -> str:
    """Add a new signing key; retire the current ones once tokens they signed expire."""
    now = utcnow()
    active = await session.scalars(
        select(SigningKeyRow).where(
            or_(SigningKeyRow.retires_at.is_(None), SigningKeyRow.retires_at > now)
        )
    )
    for row in active:
        row.retires_at = now
        row.expires_at = now + token_ttl
    key = generate_key(algorithm)
    session.add(key_row(key, algorithm, encryption))
    await session.flush()
    return key.kid or ""


class KeyRing:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        algorithm: str,
        token_ttl: timedelta,
        refresh_seconds: int,
        encryption: KeyEncryption,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.encryption = encryption
        self.algorithm = algorithm
        self.token_ttl = token_ttl
        self.refresh_seconds = refresh_seconds
        self._rows: list[SigningKeyRow] = []
        self._keyset = jwk.KeySet([])
        self._private: dict[str, Key] = {}  # decrypted once per kid
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Load the ring, creating the first signing key when there is none."""
        async with self.sessionmaker.begin() as session:
            if await session.scalar(select(SigningKeyRow.kid).limit(1)) is None:
                session.add(key_row(generate_key(self.algorithm), self.algorithm, self.encryption))
        await self.reload()

    async def reload(self) -> None:
        async with self._lock, self.sessionmaker() as session:
            now = utcnow()
            rows = await session.scalars(
                select(SigningKeyRow)
                .where(or_(SigningKeyRow.expires_at.is_(None), SigningKeyRow.expires_at > now))
                .order_by(SigningKeyRow.created_at)
            )
            self._rows = list(rows)
            self._keyset = jwk.KeySet([jwk.import_key(row.public_jwk) for row in self._rows])
            self._loaded_at = time.monotonic()

    async def refresh_if_stale(self) -> None:
        if time.monotonic() - self._loaded_at > self.refresh_seconds:
            await self.reload()

    def knows(self, kid: str | None) -> bool:
        return any(row.kid == kid for row in self._rows)

    def signing_key(self, now: datetime | None = None) -> Key:
        """The newest key that has not been retired."""
        now = now or utcnow()
        signing = [row for row in self._rows if row.retires_at is None or row.retires_at > now]
        if not signing:
            raise RuntimeError("no signing key: run `ledgergate keys rotate`")
        row = signing[-1]
        if row.kid not in self._private:
            key = jwk.import_key(self.encryption.decrypt(row.private_jwk_encrypted))
            assert isinstance(key, jwk.ECKey | jwk.RSAKey)
            self._private[row.kid] = key
        return self._private[row.kid]

    @property
    def public_keys(self) -> jwk.KeySet:
        return self._keyset

    def jwks(self) -> dict[str, Any]:
        """The JSON Web Key Set to publish: every key still valid for verification."""
        return {"keys": [dict(row.public_jwk) for row in self._rows]}
