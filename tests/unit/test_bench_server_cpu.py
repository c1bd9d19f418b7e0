"""The served benchmark's CPU per request: `/proc` and `INFO cpu` readings, Redis's share."""

import pytest

from bench.server_cpu import (
    CpuMeter,
    CpuPair,
    CpuRound,
    median_of,
    redis_cpu_seconds,
    stat_cpu_ticks,
)

# `man 5 proc`: utime (14th field) 1500, stime (15th) 250; a command name with ") (" in it.
STAT = "4242 (python) (x) S 1 4242 4242 0 -1 4194304 9000 0 0 0 1500 250 3 4 20 0 3 0 77 0 0"


def test_cpu_ticks_are_utime_plus_stime_after_the_command_name() -> None:
    assert stat_cpu_ticks(STAT) == 1750


def test_redis_cpu_is_its_user_and_system_seconds() -> None:
    info = {"used_cpu_sys": 1.25, "used_cpu_user": "2.5", "used_cpu_sys_children": 9.0}
    assert redis_cpu_seconds(info) == pytest.approx(3.75)


def test_background_work_is_taken_out_at_its_rate_in_the_other_round() -> None:
    # Bare round (2 s): Redis used 0.1 s for other clients, the idle gateway 0.02 s; the
    # governed round (4 s): the idle bare server 0.04 s. So of the governed round's Redis
    # 1.2 s, 0.2 s are background; of its gateway 0.84 s, 0.04 s; of the bare 0.82 s, 0.02 s.
    pair = CpuPair(
        governed=CpuRound(requests=1000, elapsed=4.0, server=0.84, other=0.04, redis=1.2),
        bare=CpuRound(requests=2000, elapsed=2.0, server=0.82, other=0.02, redis=0.1),
    )
    assert pair.redis_share == pytest.approx(1.0)
    assert pair.governed_server == pytest.approx(0.8)
    assert pair.bare_server == pytest.approx(0.8)
    assert pair.governed_per_request == pytest.approx(0.0018)
    assert pair.bare_per_request == pytest.approx(0.0004)
    assert pair.ratio == pytest.approx(0.4 / 1.8)
    assert pair.gross_ratio == pytest.approx(0.41 / 2.04)


def test_what_is_taken_out_is_never_more_than_there_was() -> None:
    pair = CpuPair(
        governed=CpuRound(requests=10, elapsed=1.0, server=0.01, other=0.5, redis=0.0),
        bare=CpuRound(requests=10, elapsed=1.0, server=0.01, other=0.0, redis=0.5),
    )
    assert (pair.redis_share, pair.governed_server, pair.bare_server) == (0.0, 0.01, 0.0)


def test_the_ratio_is_the_median_of_the_rounds_pairs() -> None:
    def pair(governed_server: float) -> CpuPair:
        return CpuPair(CpuRound(100, 1.0, governed_server), CpuRound(100, 1.0, 1.0))

    assert median_of([pair(1.0), pair(1.25), pair(100.0)], lambda p: p.ratio) == pytest.approx(0.8)


def test_a_meter_takes_the_deltas_around_one_round() -> None:
    server, other, redis = iter([10.0, 10.5]), iter([1.0, 1.125]), iter([3.0, 3.25])
    meter = CpuMeter(lambda: next(server), lambda: next(other), lambda: next(redis))
    measured = meter.round(lambda: 42)
    assert (measured.requests, measured.server, measured.other, measured.redis) == (
        42,
        0.5,
        0.125,
        0.25,
    )
    assert measured.elapsed >= 0


def test_a_meter_without_redis_counts_none() -> None:
    server, other = iter([1.0, 2.0]), iter([0.0, 0.0])
    assert CpuMeter(lambda: next(server), lambda: next(other), None).round(lambda: 1).redis == 0
