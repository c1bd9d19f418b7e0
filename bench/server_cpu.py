"""CPU seconds a served benchmark's server side spends per request, read from the kernel.

Throughput on a shared host moves with whatever else runs on it; the CPU time the
server's own processes use for the same requests moves far less (a busy host delays
them, it hardly makes them execute more). Per round of load: the delta of the server's
processes' `utime + stime` (`/proc/PID/stat`, workers included) and, for a server that
counts rate limits in Redis, the delta of the Redis server's own CPU (`INFO cpu`). Work
that is not the round's is taken out at the rate it ran in the adjacent round of the
other server: each server's idle work (the gateway's readiness probes and refreshes run
whether it serves or not: at a few hundred requests per round they would weigh as much
as a part of the edge) and Redis's other clients (a shared Redis; the bare server sends
it nothing). Both the net and the gross ratio are reported.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


def stat_cpu_ticks(stat: str) -> int:
    """`utime + stime` in clock ticks from the text of `/proc/PID/stat`.

    The command name (second field, in parentheses) may hold spaces and parentheses,
    so the fields are counted after its last `)`: there utime and stime are the 12th and
    13th (`man 5 proc`: fields 14 and 15 of the line)."""
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def reaped_cpu_ticks(stat: str) -> int:
    """`cutime + cstime` in clock ticks from the text of `/proc/PID/stat`: what the
    process's children that have exited and been waited for used (fields 16 and 17)."""
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[13]) + int(fields[14])


def redis_cpu_seconds(info: Mapping[str, Any]) -> float:
    """The Redis server's CPU seconds so far (all its threads, user and system) from the
    `cpu` section of `INFO`."""
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


@dataclass(frozen=True)
class CpuRound:
    """One round of load: requests answered, wall seconds, the loaded server's processes'
    CPU seconds, the other (idle) server's and the Redis server's (other clients included)."""

    requests: int
    elapsed: float
    server: float
    other: float = 0.0
    redis: float = 0.0


def background(used: float, over: float, elapsed: float) -> float:
    """`used` seconds of CPU in `over` seconds of wall time, at that rate for `elapsed`."""
    return used / over * elapsed if over else 0.0


@dataclass(frozen=True)
class CpuPair:
    """A governed and a bare round run back to back."""

    governed: CpuRound
    bare: CpuRound

    @property
    def redis_share(self) -> float:
        """Redis CPU seconds the governed round caused: its Redis delta less Redis's rate
        during the bare round (which sends Redis nothing) over the same time, at least 0."""
        governed, bare = self.governed, self.bare
        return max(0.0, governed.redis - background(bare.redis, bare.elapsed, governed.elapsed))

    @property
    def governed_server(self) -> float:
        """The gateway's CPU seconds in its round less its idle rate (in the bare round)."""
        governed, bare = self.governed, self.bare
        return max(0.0, governed.server - background(bare.other, bare.elapsed, governed.elapsed))

    @property
    def bare_server(self) -> float:
        """The bare server's CPU seconds in its round less its idle rate."""
        governed, bare = self.governed, self.bare
        return max(0.0, bare.server - background(governed.other, governed.elapsed, bare.elapsed))

    @property
    def governed_per_request(self) -> float:
        return (self.governed_server + self.redis_share) / self.governed.requests

    @property
    def bare_per_request(self) -> float:
        return self.bare_server / self.bare.requests

    @property
    def ratio(self) -> float:
        """Bare/governed CPU per request: the governed throughput's share of the bare one
        where the server side's CPU is the bottleneck."""
        return self.bare_per_request / self.governed_per_request

    @property
    def gross_ratio(self) -> float:
        """The same with each server's idle work and Redis's other clients left in."""
        governed = (self.governed.server + self.governed.redis) / self.governed.requests
        return self.bare.server / self.bare.requests / governed


def median_of(pairs: Sequence[CpuPair], value: Callable[[CpuPair], float]) -> float:
    """The median over the rounds' pairs of `value`."""
    return statistics.median(value(pair) for pair in pairs)


class CpuMeter:
    """Reads the loaded server's, the other server's and Redis's CPU seconds around one
    round of load."""

    def __init__(
        self,
        server_seconds: Callable[[], float],
        other_seconds: Callable[[], float],
        redis_seconds: Callable[[], float] | None,
    ) -> None:
        self.server_seconds = server_seconds
        self.other_seconds = other_seconds
        self.redis_seconds = redis_seconds

    def snapshot(self) -> list[float]:
        redis = self.redis_seconds() if self.redis_seconds is not None else 0.0
        return [time.monotonic(), self.server_seconds(), self.other_seconds(), redis]

    def round(self, run: Callable[[], int]) -> CpuRound:
        """Run one round (returning its requests answered) and what it cost."""
        start = self.snapshot()
        requests = run()
        elapsed, server, other, redis = (b - a for a, b in zip(start, self.snapshot(), strict=True))
        return CpuRound(requests, elapsed, server, other, redis)
