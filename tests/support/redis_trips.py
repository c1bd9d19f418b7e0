"""Counting the commands a test's own task sends to Redis, each one round trip, and
recording what goes on the wire."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.asyncio.connection import AbstractConnection


def redis_round_trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of each command a redis-py connection sends from now on for the calling
    task (an in-process request runs in it): the client's commands and the rate limits'
    packed script calls alike. The gateway's background loops, in tasks of their own,
    share the connections' class and are not counted."""
    sent: list[str] = []
    this_test = asyncio.current_task()
    send = AbstractConnection.send_packed_command

    async def recording(
        connection: AbstractConnection, command: Any, check_health: bool = True
    ) -> None:
        if asyncio.current_task() is this_test:
            wire = command if isinstance(command, bytes) else b"".join(command)
            sent.append(wire.split(b"\r\n")[2].decode().upper())
        await send(connection, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", recording)
    return sent


def redis_commands(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every command a redis-py connection sends from now on, as its bytes."""
    wire: list[bytes] = []
    send = AbstractConnection.send_packed_command

    async def recording(connection: AbstractConnection, command: Any, **options: Any) -> None:
        wire.append(command)
        await send(connection, command, **options)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", recording)
    return wire
