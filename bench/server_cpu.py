"""CPU seconds a served benchmark's server side spends per request, read from the kernel.

Throughput on a shared host moves with whatever else runs on it; the CPU time the
server's own processes use for the same requests moves far less (a busy host delays
them, it hardly makes them execute more). Per round of load: the delta of the server's
processes' `utime + stime` (`/proc/PID/stat`, workers included) and, for a server that
counts rate limits in Redis, the delta of the Redis server's own CPU (`INFO cpu`) less
what Redis used over the same time without it (its rate in the adjacent round against
a server that sends it nothing: other clients of a shared Redis).
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


def redis_cpu_seconds(info: Mapping[str, Any]) -> float:
    """The Redis server's CPU seconds so far (all its threads, user and system) from the
    `cpu` section of `INFO`."""
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


@dataclass(frozen=True)
class CpuRound:
    """One round of load: requests answered, wall seconds, the server's processes' CPU
    seconds and the Redis server's (the whole server's, other clients included)."""

    requests: int
    elapsed: float
    server: float
    redis: float = 0.0


@dataclass(frozen=True)
class CpuPair:
    """A governed and a bare round run back to back."""

    governed: CpuRound
    bare: CpuRound

    @property
    def redis_share(self) -> float:
        """Redis CPU seconds the governed round caused: its Redis delta less Redis's rate
        during the bare round (which sends Redis nothing) over the same time, at least 0."""
        background = self.bare.redis / self.bare.elapsed if self.bare.elapsed else 0.0
        return max(0.0, self.governed.redis - background * self.governed.elapsed)

    @property
    def governed_per_request(self) -> float:
        return (self.governed.server + self.redis_share) / self.governed.requests

    @property
    def bare_per_request(self) -> float:
        return self.bare.server / self.bare.requests

    @property
    def ratio(self) -> float:
        """Bare/governed CPU per request: the governed throughput's share of the bare one
        where the server side's CPU is the bottleneck."""
        return self.bare_per_request / self.governed_per_request


def median_ratio(pairs: Sequence[CpuPair]) -> float:
    return statistics.median(pair.ratio for pair in pairs)


def median_per_request(pairs: Sequence[CpuPair], side: Callable[[CpuPair], float]) -> float:
    return statistics.median(side(pair) for pair in pairs)


class CpuMeter:
    """Reads a server's and Redis's CPU seconds around one round of load."""

    def __init__(
        self, server_seconds: Callable[[], float], redis_seconds: Callable[[], float] | None
    ) -> None:
        self.server_seconds = server_seconds
        self.redis_seconds = redis_seconds

    def snapshot(self) -> tuple[float, float, float]:
        redis = self.redis_seconds() if self.redis_seconds is not None else 0.0
        return time.monotonic(), self.server_seconds(), redis

    def round(self, run: Callable[[], int]) -> CpuRound:
        """Run one round (returning its requests answered) and what it cost."""
        start = self.snapshot()
        requests = run()
        end = self.snapshot()
        elapsed, server, redis = (b - a for a, b in zip(start, end, strict=True))
        return CpuRound(requests, elapsed, server, redis)
