"""Counting the commands sent to Redis, each one round trip, whatever sent them."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio.connection import AbstractConnection


def redis_round_trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of each command any redis-py connection sends from now on: the client's
    commands and the rate limits' packed script calls alike."""
    sent: list[str] = []
    send = AbstractConnection.send_packed_command

    async def recording(
        connection: AbstractConnection, command: Any, check_health: bool = True
    ) -> None:
        wire = command if isinstance(command, bytes) else b"".join(command)
        sent.append(wire.split(b"\r\n")[2].decode().upper())
        await send(connection, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", recording)
    return sent
