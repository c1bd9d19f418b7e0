"""The posting bench's account of where a whole-stack posting's time goes."""

import ctypes
import os
import signal
import time
from collections import Counter
from pathlib import Path

from bench.harness import Measured, named_cpu_seconds
from bench.posting import Outcome, Scenario, cpu_line, cpu_lines, floor_line, metered


def test_a_process_name_counts_the_cpu_of_every_process_so_named() -> None:
    stat = Path("/proc/self/stat").read_text()
    name = stat[stat.find("(") + 1 : stat.rfind(")")]
    before = named_cpu_seconds(name)
    deadline = time.process_time() + 0.05
    while time.process_time() < deadline:
        pass
    # /proc counts in ticks of 10 ms: 50 ms spun may read as 40 ms, less a float's rounding
    assert named_cpu_seconds(name) - before > 0.03
    assert named_cpu_seconds("no-such-process-name") == 0


def test_metered_adds_what_each_meter_moved_during_the_run() -> None:
    readings = {"gateway": iter([1.0, 1.5, 1.5, 2.5]), "Redis": iter([7.0, 7.25, 7.25, 7.5])}
    meters = {part: (lambda part=part: next(readings[part])) for part in readings}
    into: Counter[str] = Counter()
    metered(meters, into, lambda: None)
    metered(meters, into, lambda: None)
    assert into == {"gateway": 1.5, "Redis": 0.5}


def test_the_cpu_line_is_per_posting_in_milliseconds() -> None:
    outcome = Outcome(Scenario("one at a time", 1))
    outcome.stack = Measured(requests=200, elapsed=4.0)
    outcome.stack_cpu.update({"gateway": 2.4, "PostgreSQL": 0.4})
    assert cpu_line(outcome) == (
        "one at a time, whole stack, per posting: wall 20.00 ms (elapsed ÷ postings); "
        "CPU ms gateway 12.00, PostgreSQL 2.00, together 14.00"
    )


def test_the_floor_line_sets_the_floor_against_the_targets_beside_the_whole_stack() -> None:
    one = Outcome(Scenario("one at a time", 1, with_floor=True))
    one.direct.latencies_ms = [1.0, 1.0, 1.0]
    one.stack.latencies_ms = [20.0, 20.0, 20.0]
    one.floor.latencies_ms = [12.0, 12.0, 12.0]
    assert floor_line(one) == (
        "one at a time: floor/direct p50 latency 12.00x (whole stack 20.00x), "
        "floor p50 12.00 ms (target p50 ≤ 10x: missed)"
    )
    flight = Outcome(Scenario("8 in flight", 8, with_floor=True))
    flight.direct.latencies_ms = [5.0, 5.0, 5.0]
    flight.stack = Measured(requests=100, elapsed=2.0, latencies_ms=[100.0, 100.0, 100.0])
    flight.floor = Measured(requests=600, elapsed=2.0, latencies_ms=[25.0, 25.0, 25.0])
    assert floor_line(flight) == (
        "8 in flight: floor/direct p50 latency 5.00x (whole stack 20.00x), floor p50 25.00 ms; "
        "floor 300 postings/s (target ≥ 250: met), whole stack 50, "
        "floor/whole stack throughput 6.00"
    )


def test_the_floor_has_its_cpu_line_after_the_whole_stacks() -> None:
    outcome = Outcome(Scenario("one at a time", 1, with_floor=True))
    outcome.stack = Measured(requests=100, elapsed=2.0)
    outcome.floor = Measured(requests=200, elapsed=2.0)
    outcome.stack_cpu.update({"gateway": 1.5})
    outcome.floor_cpu.update({"floor": 0.8, "Redis": 0.2})
    assert cpu_lines([outcome]) == [
        "one at a time, whole stack, per posting: wall 20.00 ms (elapsed ÷ postings); "
        "CPU ms gateway 15.00, together 15.00",
        "one at a time, floor, per posting: wall 10.00 ms (elapsed ÷ postings); "
        "CPU ms floor 4.00, Redis 1.00, together 5.00",
    ]


def test_in_flight_the_cpu_line_gives_the_ceiling_the_cores_allow() -> None:
    outcome = Outcome(Scenario("8 in flight", 8))
    outcome.stack = Measured(requests=100, elapsed=1.0)
    outcome.stack_cpu.update({"gateway": 0.6, "PostgreSQL": 0.2})
    cores = os.cpu_count() or 1
    assert cpu_line(outcome).endswith(
        f"together 8.00; CPU-bound ceiling {cores * 125} postings/s on {cores} cores "
        "(the load generator's CPU not counted)"
    )


def test_a_process_names_count_keeps_the_cpu_of_its_exited_children() -> None:
    """A database server's backends come and go; what one used stays counted once it exits
    (in its parent's count of reaped children)."""
    name = f"lg-cpu-{os.getpid() % 100000}"
    ready, told = os.pipe()
    server = os.fork()
    if server == 0:  # the "server": names itself, then runs a "backend" that works and exits
        try:
            libc = ctypes.CDLL(None)
            libc.prctl(15, name.encode(), 0, 0, 0)  # PR_SET_NAME
            backend = os.fork()
            if backend == 0:
                deadline = time.process_time() + 0.05
                while time.process_time() < deadline:
                    pass
                os._exit(0)
            os.waitpid(backend, 0)
            os.write(told, b"x")
            time.sleep(30)
        finally:
            os._exit(0)
    try:
        os.read(ready, 1)
        assert named_cpu_seconds(name) >= 0.04
    finally:
        os.kill(server, signal.SIGKILL)
        os.waitpid(server, 0)
