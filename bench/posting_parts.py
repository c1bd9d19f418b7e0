"""Which part of the gateway makes a posting's Python calls, counted.

`uv run python -m bench.posting_parts [--postings N]`

Runs `bench.posting_profile`'s postings (one profiled round) with a profile hook that sees
what cProfile counts (Python calls, coroutine resumptions, C calls) and gives each call to
the part of the code it was made in or under: its stack is read from the innermost frame
outwards to the first frame of a part (`PARTS`, the first prefix that matches). Library
frames (httpx, starlette, fastapi, pydantic, the standard library) belong to no part:
their calls are the part's that called them. What the in-process ERP sandbox runs (the
app behind `InProcessTransport`) is the sandbox's; what no part claims (the bench's HTTP
client, the event loop) is the bench's. Slower than cProfile: a few seconds a posting.
It also counts the packed scripts' Redis round trips by whose they are (the rate limit's
check, the ERP budget's acquires and releases): at this pace most releases go alone.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import sysconfig
from collections import Counter
from types import CodeType, FrameType

from bench.harness import in_process_gateway
from bench.posting_profile import measure
from core import redis_scripts

PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("database", ("sqlalchemy/", "asyncpg/")),
    ("redis", ("redis/", "core/redis_scripts.py")),
    (
        "logging",
        ("logging/", "pythonjsonlogger/", "app/governance/logging.py", "process_apis/runs/run_log"),
    ),
    ("metrics", ("prometheus_client/", "app/governance/metrics.py", "system_apis/metrics.py")),
    ("ERP budget", ("system_apis/budget",)),
    (
        "ERP adapter and client",
        ("system_apis/http.py", "system_apis/circuit.py", "system_apis/erp/", "app/erp_routing"),
    ),
    ("ids", ("core/ids.py",)),
    ("edge", ("app/governance/", "app/route_index.py", "core/auth.py", "starlette/applications")),
    ("route", ("process_apis/invoices/router.py", "process_apis/deps.py")),
    ("posting (process, runs, idempotency)", ("process_apis/", "core/", "events/")),
)
EDGE_PARTS = ("edge", "route", "ERP adapter and client", "logging", "metrics", "ids")
"""The edge parts: the posting's Python work outside the database, its runs and the ERP."""
SANDBOX = "ERP sandbox"
BENCH = "bench client and event loop"
IN_PROCESS = ("system_apis/http.py", "_answer")  # `InProcessTransport` calls the app here
SANDBOX_APPS = ("starlette/", "fastapi/", "sandboxes/")  # what an in-process sandbox runs

ROOT = os.getcwd() + "/"
STDLIB = sysconfig.get_paths()["stdlib"] + "/"

tally: Counter[str] = Counter()
_kinds: dict[CodeType, tuple[str | None, tuple[str, str]]] = {}
ROUND_TRIP = redis_scripts._evalsha.__code__  # packed once for each script's round trip
SCRIPT_CALLERS = {
    "system_apis/budget_redis.py": "ERP budget",
    "app/governance/rate_window.py": "rate limit",
}
round_trips: Counter[str] = Counter()
"""Redis round trips of the packed scripts, by who made them: `ERP budget acquire`, say."""


def _kind(code: CodeType) -> tuple[str | None, tuple[str, str]]:
    """The part a frame of `code` belongs to (None: a library's), and its file and name."""
    known = _kinds.get(code)
    if known is None:
        path = code.co_filename
        for root in ("site-packages/", ROOT, STDLIB):
            if root in path:
                path = path.split(root, 1)[1]
                break
        part = next((name for name, prefixes in PARTS if path.startswith(prefixes)), None)
        known = _kinds[code] = (part, (path, code.co_name))
    return known


def _part(frame: FrameType | None) -> str:
    part = None
    while frame is not None:
        frame_part, where = _kind(frame.f_code)
        caller = frame.f_back
        if caller is not None and where[0].startswith(SANDBOX_APPS):
            if _kind(caller.f_code)[1] == IN_PROCESS:
                return SANDBOX  # the sandbox app, called by the ERP's in-process transport
        if part is None and frame_part is not None:
            part = frame_part
        frame = caller
    return part or BENCH


def _script_caller(frame: FrameType | None) -> str:
    """Whose script a round trip is (`ERP budget release`, say): the first public method of
    a store that sends scripts."""
    while frame is not None:
        _, (path, name) = _kind(frame.f_code)
        if path in SCRIPT_CALLERS and not name.startswith("_"):
            return f"{SCRIPT_CALLERS[path]} {name}"
        frame = frame.f_back
    return "other"


def _count(frame: FrameType, event: str, _arg: object) -> None:
    if event in ("call", "c_call"):
        tally[_part(frame)] += 1
        if frame.f_code is ROUND_TRIP and event == "call":
            round_trips[_script_caller(frame)] += 1


class PartCalls:
    """`bench.posting_profile`'s call counter, giving each call to its part in `tally`."""

    def __init__(self) -> None:
        self.before = sum(tally.values())

    def enable(self) -> None:
        sys.setprofile(_count)

    def disable(self) -> None:
        sys.setprofile(None)

    def calls(self) -> int:
        return sum(tally.values()) - self.before

    def save(self, path: str) -> None:
        raise NotImplementedError("no stats to save: the parts are printed")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--postings", type=int, default=20, help="postings counted")
    parser.add_argument("--warmup", type=int, default=10, help="postings before counting")
    args = parser.parse_args()
    args.rounds, args.profile = 1, None
    with in_process_gateway():
        totals = asyncio.run(measure(args, PartCalls))
    n = max(totals.profiled, 1)
    print(f"{n} postings, statuses {dict(totals.statuses)}; Python calls per posting:")  # noqa: T201
    for part, calls in tally.most_common():
        print(f"  {part:38} {calls / n:8.0f}")  # noqa: T201
    edge = sum(tally[part] for part in EDGE_PARTS)
    print(f"  {'total':38} {sum(tally.values()) / n:8.0f}")  # noqa: T201
    print(f"  {'of which the edge parts':38} {edge / n:8.0f}")  # noqa: T201
    trips = ", ".join(f"{name} {count / n:.2f}" for name, count in round_trips.most_common())
    print(f"Redis round trips per posting: {sum(round_trips.values()) / n:.2f} ({trips})")  # noqa: T201
    return 0 if set(totals.statuses) == {201} else 1


if __name__ == "__main__":
    sys.exit(main())
