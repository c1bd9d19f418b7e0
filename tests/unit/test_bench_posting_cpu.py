"""The posting bench's account of where a whole-stack posting's time goes."""

import time
from collections import Counter
from pathlib import Path

from bench.harness import Measured, named_cpu_seconds
from bench.posting import Outcome, Scenario, cpu_line, metered


def test_a_process_name_counts_the_cpu_of_every_process_so_named() -> None:
    stat = Path("/proc/self/stat").read_text()
    name = stat[stat.find("(") + 1 : stat.rfind(")")]
    before = named_cpu_seconds(name)
    deadline = time.process_time() + 0.05
    while time.process_time() < deadline:
        pass
    assert named_cpu_seconds(name) - before >= 0.04
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
