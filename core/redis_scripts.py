"""Lua scripts sent to Redis as packed bytes on kept connections, one round trip each.

Through redis-py's `execute_command` a script call took about 270 Python calls more
(cProfile's count): the pool's lock and its observability records on every borrow and
return, the retry and observability wrappers, and the encoding of each argument. Here a
command is packed from bytes (what does not change between calls packed once by the
caller) and sent on a connection kept between calls (borrowed from the pool once, so the
pool still closes it); any failure disconnects the connection, so that it is never
reused mid-answer. A server that does not know a script (a restart, a flush) is sent it
once, as redis-py does. redis-py's parser reads the answer: with hiredis installed (a
dependency) in C, where its Python one took about 13 calls an element.

redis-py is imported only where a call is made: a gateway that keeps nothing in Redis
never loads it.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.connection import AbstractConnection, ConnectionPool
    from redis.commands.core import AsyncScript


class Arguments(NamedTuple):
    """A command's arguments as Redis reads them off the wire (RESP bulk strings)."""

    parts: int
    packed: bytes


def bulk(*parts: bytes) -> Arguments:
    return Arguments(len(parts), b"".join([b"$%d\r\n%s\r\n" % (len(p), p) for p in parts]))


def followed_by(arguments: Arguments, *parts: bytes) -> Arguments:
    """`arguments` (packed once, say), then `parts`."""
    packed = [arguments.packed, *[b"$%d\r\n%s\r\n" % (len(p), p) for p in parts]]
    return Arguments(arguments.parts + len(parts), b"".join(packed))


@functools.cache
def _evalsha_head(sha: str, keys: int) -> bytes:
    return bulk(b"EVALSHA", sha.encode(), b"%d" % keys).packed


def _evalsha(script: AsyncScript, keys: int, arguments: Arguments) -> bytes:
    """`EVALSHA` of `script` with `keys` keys first among `arguments`, packed."""
    head = _evalsha_head(script.sha, keys)
    return b"*%d\r\n%s%s" % (arguments.parts + 3, head, arguments.packed)


class Scripts:
    """`EVALSHA` of a client's registered scripts, sent on connections of its pool without
    the client's per-command machinery. Failures are redis-py's exceptions."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.pool: ConnectionPool = redis.connection_pool
        self.idle: list[AbstractConnection] = []

    async def run(self, script: AsyncScript, keys: int, arguments: Arguments) -> Any:
        """`script` run with `arguments`, whose first `keys` are its keys."""
        from redis.exceptions import NoScriptError

        kept = bool(self.idle)
        conn = self.idle.pop() if kept else await self.pool.get_connection()  # type: ignore[no-untyped-call]
        try:
            try:
                answer = await self._send(conn, _evalsha(script, keys, arguments), kept=kept)
            except NoScriptError:  # answered in full: the connection is clean
                script.sha = await self.redis.script_load(script.script)
                answer = await self._send(conn, _evalsha(script, keys, arguments), kept=False)
        except BaseException:
            await conn.disconnect()
            await self.pool.release(conn)
            raise
        self.idle.append(conn)
        return answer

    @staticmethod
    async def _send(conn: AbstractConnection, command: bytes, *, kept: bool) -> Any:
        """Send `command` and read its answer. A kept connection the server closed while it
        was idle (a restart, an idle timeout) is reconnected once, as the pool's check of a
        connection it lends would have; other failures are the caller's."""
        from redis.exceptions import ConnectionError

        if not conn.is_connected:
            await conn.connect()  # type: ignore[no-untyped-call]
        try:
            return await _exchange(conn, command)
        except ConnectionError:
            if not kept:
                raise
        await conn.disconnect()
        await conn.connect()  # type: ignore[no-untyped-call]
        return await _exchange(conn, command)


async def _exchange(conn: AbstractConnection, command: bytes) -> Any:
    """`command` written to the connection's stream and its answer read by its parser (hiredis
    in C), as `send_packed_command` and `read_response` do, without their layers: ten
    Python calls a round trip (its type checks, `writelines` and a `drain` that waits for
    nothing, the host named for an error that did not happen). A connection with a socket
    timeout goes through them: they arm it. Failures are redis-py's: a write's `OSError` a
    `ConnectionError`, an error reply raised."""
    from redis.exceptions import ConnectionError, ResponseError

    if conn.socket_timeout:
        await conn.send_packed_command(command, check_health=False)
        return await conn.read_response()
    writer = conn._writer  # noqa: SLF001
    try:
        writer.write(command)  # type: ignore[union-attr]
        if writer.transport.get_write_buffer_size():  # type: ignore[union-attr]
            await writer.drain()  # type: ignore[union-attr]
        answer = await conn._parser.read_response()  # type: ignore[attr-defined]  # noqa: SLF001
    except OSError as exc:
        raise ConnectionError(f"Redis: {exc}") from exc
    if isinstance(answer, ResponseError):
        raise answer from None
    return answer
