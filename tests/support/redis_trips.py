"""Counting the commands a test's own task sends to Redis, each one round trip, and
recording what goes on the wire."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from redis.asyncio.connection import AbstractConnection

from core import redis_scripts


def _on_the_wire(monkeypatch: pytest.MonkeyPatch, note: Callable[[bytes], None]) -> None:
    """`note` each command as its bytes, whether redis-py's connection sends it or the
    packed scripts write it to the connection's stream themselves."""
    send = AbstractConnection.send_packed_command
    exchange = redis_scripts._exchange

    async def sending(connection: AbstractConnection, command: Any, **options: Any) -> None:
        note(command if isinstance(command, bytes) else b"".join(command))
        await send(connection, command, **options)

    async def exchanging(connection: AbstractConnection, command: bytes) -> Any:
        if not connection.socket_timeout:  # else sent by `send_packed_command`: noted there
            note(command)
        return await exchange(connection, command)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", sending)
    monkeypatch.setattr(redis_scripts, "_exchange", exchanging)


def redis_round_trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of each command a redis-py connection sends from now on for the calling
    task (an in-process request runs in it): the client's commands and the rate limits'
    packed script calls alike. The gateway's background loops, in tasks of their own,
    share the connections' class and are not counted."""
    sent: list[str] = []
    this_test = asyncio.current_task()

    def note(wire: bytes) -> None:
        if asyncio.current_task() is this_test:
            sent.append(wire.split(b"\r\n")[2].decode().upper())

    _on_the_wire(monkeypatch, note)
    return sent


def redis_commands(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every command a redis-py connection sends from now on, as its bytes."""
    wire: list[bytes] = []
    _on_the_wire(monkeypatch, wire.append)
    return wire
