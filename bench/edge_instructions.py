"""What one governed read costs the gateway process, in instructions (callgrind).

`uv run python -m bench.edge_instructions [--requests N] [--rounds R] [--keep DIR]`

The apps and reads of `bench.edge_profile` (the gateway and the bare handler, one
throwaway database, the Redis rate limiter), in one process run under
`valgrind --tool=callgrind`, which counts the instructions the process executes: a
count the host's load does not move, unlike CPU time. Collection is on only around each
round of N reads (the rounds of the two apps alternate, after a warm-up); each round is
dumped on its own, and the instructions per read of each app are reported (each
round's, the median) with their ratio, bare/governed: the governed read's throughput as
a share of the bare one's where the workers' CPU is the bottleneck. The readiness probe,
the signing-key refresh and the client grant cache are set to an hour, so that the
slowed clock (valgrind runs the process some 50 times slower) does not make their
periodic work look per-request. Needs `valgrind` and a C compiler (for the few lines that
switch collection on and off from Python, compiled into a scratch directory).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.edge_profile import get, started_apps
from bench.harness import (
    host_line,
    in_process_gateway,
)

INNER = "BENCH_EDGE_INSTRUCTIONS_HELPER"  # set in the process valgrind runs: the helper
CONTROL = """
#include <valgrind/callgrind.h>
void zero(void) { CALLGRIND_ZERO_STATS; }
void toggle(void) { CALLGRIND_TOGGLE_COLLECT; }
void dump(const char *name) { CALLGRIND_DUMP_STATS_AT(name); }
"""
HOURLY = {
    "LEDGERGATE_READINESS_PROBE_SECONDS": "3600",
    "LEDGERGATE_AUTH__KEY_REFRESH_SECONDS": "3600",
    "LEDGERGATE_AUTH__CLIENT_CACHE_SECONDS": "3600",
}


async def measure(args: argparse.Namespace, control: Any) -> set[int]:
    statuses: set[int] = set()
    async with started_apps(args.invoices) as (gateway, bare, paths, auth):
        sides = [("governed", gateway, auth), ("bare", bare, [])]

        async def reads(app: Any, headers: list[tuple[bytes, bytes]]) -> None:
            for i in range(args.requests):
                statuses.add(await get(app, paths[i % len(paths)], headers))

        for _, app, headers in sides * 3:  # warm-up: caches, pools, compiled statements
            await reads(app, headers)
        for round_ in range(args.rounds):
            for name, app, headers in sides if round_ % 2 == 0 else reversed(sides):
                control.zero()
                control.toggle()
                await reads(app, headers)
                control.toggle()
                control.dump(f"{name}-{round_}".encode())
    return statuses


def inner(args: argparse.Namespace) -> int:
    control = ctypes.CDLL(os.environ[INNER])
    with in_process_gateway(**HOURLY) as (database, storage):
        import uvloop

        statuses = uvloop.run(measure(args, control))
    print(f"{database.description}; rate limits in {storage}; statuses {sorted(statuses)}")  # noqa: T201
    return 0 if statuses == {200} else 1


def per_read(directory: Path, requests: int) -> dict[str, list[float]]:
    """Instructions per read of each app, by round, from callgrind's dumps."""
    rounds: dict[str, list[float]] = {}
    for dump in sorted(directory.glob("callgrind.out.*")):
        text = dump.read_text(errors="replace")
        trigger = re.search(r"^desc: Trigger: Client Request: (\S+)", text, re.MULTILINE)
        total = re.search(r"^(?:summary|totals): (\d+)", text, re.MULTILINE)
        if trigger and total:
            name = trigger.group(1).rsplit("-", 1)[0]
            rounds.setdefault(name, []).append(int(total.group(1)) / requests)
    return rounds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=20, help="reads per round")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds")
    parser.add_argument("--invoices", type=int, default=20, help="invoices to read in turn")
    parser.add_argument("--keep", help="keep callgrind's dumps in this directory")
    args = parser.parse_args()
    if INNER in os.environ:
        return inner(args)
    valgrind, compiler = shutil.which("valgrind"), shutil.which("cc")
    if valgrind is None or compiler is None:
        print("needs valgrind and a C compiler", file=sys.stderr)  # noqa: T201
        return 2
    with tempfile.TemporaryDirectory() as scratch:
        helper = Path(scratch) / "control.so"
        source = Path(scratch) / "control.c"
        source.write_text(CONTROL)
        subprocess.run([compiler, "-shared", "-fPIC", "-o", helper, source], check=True)
        dumps = Path(args.keep or scratch)
        dumps.mkdir(parents=True, exist_ok=True)
        command = [
            valgrind,
            "--tool=callgrind",
            "--collect-atstart=no",
            f"--callgrind-out-file={dumps}/callgrind.out.%p",
            sys.executable,
            "-m",
            "bench.edge_instructions",
            *sys.argv[1:],
        ]
        run = subprocess.run(
            command, env={**os.environ, INNER: str(helper)}, capture_output=True, text=True
        )
        print(run.stdout.strip())  # noqa: T201
        if run.returncode:
            print(run.stderr[-3000:], file=sys.stderr)  # noqa: T201
            return run.returncode
        rounds = per_read(dumps, args.requests)
    print(f"host {host_line()}; {args.rounds} rounds of {args.requests} reads each")  # noqa: T201
    medians = {}
    for name in ("bare", "governed"):
        medians[name] = statistics.median(rounds[name])
        each = ", ".join(f"{value / 1e6:.3f}" for value in rounds[name])
        print(f"{name:9} {medians[name] / 1e6:.3f} M instructions per read (rounds: {each})")  # noqa: T201
    print(f"bare/governed instructions per read: {medians['bare'] / medians['governed']:.3f}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
