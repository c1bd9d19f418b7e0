"""What one synchronous posting costs the gateway process, counted rather than timed.

`uv run python -m bench.posting_profile [--postings N] [--rounds R] [--profile FILE]`

In one process, on one throwaway database (PostgreSQL, else SQLite) with the rate limits
in Redis (else memory), it builds the gateway with its ERP the in-process Business Central
sandbox, registers invoices, posts a few to warm the caches (the customer, the tax
groups, compiled statements), then posts the rest one at a time with
`POST /v1/invoices/{id}/postings` (a fresh `Idempotency-Key` each), calling the app
directly as an ASGI app. Rounds alternate with and without cProfile. Per posting:

- Python function calls under cProfile (what the load of the host does not move),
- SQL statements, `BEGIN`s (transactions started) and `COMMIT`s, the ERP budget's
  among them when it is kept in the database,
- CPU milliseconds of this process (`time.process_time`) without the profiler; the
  sandbox's own work is in it, as it is in the count of calls.

Run it on two trees (before, after) for a comparison; with `--profile FILE` the stats
are saved and the functions with the most calls are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

import httpx
from sqlalchemy import event
from sqlalchemy.engine import Engine
from starlette.applications import Starlette

from bench.harness import (
    DEMO_CLIENT,
    host_line,
    in_process_gateway,
    invoice_body,
)


@dataclass
class Tally:
    """What the process sends to the database: statements, and transactions begun and ended."""

    seen: Counter[str] = field(default_factory=Counter)
    # The statements and transaction events in order, while `log` is not None.
    log: list[str] | None = None

    def install(self) -> None:
        def statement(_connection: object, _cursor: object, sql: str, *_: object) -> None:
            self.seen["statements"] += 1
            if self.log is not None:
                self.log.append(" ".join(sql.split())[:110])

        def begin(*_: object) -> None:
            self.seen["begins"] += 1
            if self.log is not None:
                self.log.append("-- BEGIN")

        def commit(*_: object) -> None:
            self.seen["commits"] += 1
            if self.log is not None:
                self.log.append("-- COMMIT")

        def rollback(*_: object) -> None:
            self.seen["rollbacks"] += 1
            if self.log is not None:
                self.log.append("-- ROLLBACK")

        event.listen(Engine, "before_cursor_execute", statement)
        event.listen(Engine, "begin", begin)
        event.listen(Engine, "commit", commit)
        event.listen(Engine, "rollback", rollback)


class CallCounter(Protocol):
    """What counts the calls of a profiled round."""

    def enable(self) -> None: ...
    def disable(self) -> None: ...
    def calls(self) -> int: ...
    def save(self, path: str) -> None: ...


class CProfileCalls:
    """Counts a round's calls with cProfile; `save` keeps the stats for `pstats`."""

    def __init__(self) -> None:
        self.profile = cProfile.Profile()

    def enable(self) -> None:
        self.profile.enable()

    def disable(self) -> None:
        self.profile.disable()

    def calls(self) -> int:
        return int(pstats.Stats(self.profile).total_calls)  # type: ignore[attr-defined]

    def save(self, path: str) -> None:
        self.profile.dump_stats(path)


@dataclass
class Totals:
    postings: int = 0
    calls: int = 0
    profiled: int = 0
    cpu_seconds: float = 0.0
    timed: int = 0
    seen: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    log: list[str] = field(default_factory=list)  # the last warm-up posting's SQL


async def post_all(
    client: httpx.AsyncClient, ids: list[str], headers: dict[str, str], totals: Totals
) -> None:
    for invoice_id in ids:
        response = await client.post(
            f"/v1/invoices/{invoice_id}/postings",
            json={},
            headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
        )
        totals.statuses[response.status_code] += 1


async def measure(
    args: argparse.Namespace, counter: Callable[[], CallCounter] = CProfileCalls
) -> Totals:
    """`counter` makes what counts each profiled round's calls (`bench.posting_parts`)."""
    from app.governance.logging import configure_logging
    from app.main import create_app
    from core.settings import Settings

    settings = Settings()
    stdout, sys.stdout = sys.stdout, open(os.devnull, "w")  # noqa: SIM115
    try:
        configure_logging(settings.log_level)
    finally:
        sys.stdout = stdout
    app: Starlette = create_app(settings)
    tally = Tally()
    tally.install()
    totals = Totals()
    per_round = args.postings
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(app.router.lifespan_context(app))
        transport = httpx.ASGITransport(app=app)
        client = await stack.enter_async_context(
            httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1")
        )
        response = await client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "scope": "invoices:write invoices:post"},
            auth=DEMO_CLIENT,
        )
        response.raise_for_status()
        headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
        ids = []
        for _ in range(args.warmup + per_round * args.rounds):
            created = await client.post(
                "/v1/invoices", json=invoice_body(date.today()), headers=headers
            )
            created.raise_for_status()
            ids.append(created.json()["id"])
        await post_all(client, ids[: args.warmup - 1], headers, Totals())
        tally.log = []
        await post_all(client, ids[args.warmup - 1 : args.warmup], headers, Totals())
        totals.log, tally.log = tally.log, None
        ids = ids[args.warmup :]
        for round_ in range(args.rounds):
            chunk = ids[round_ * per_round : (round_ + 1) * per_round]
            profiled = round_ % 2 == 0
            before = Counter(tally.seen)
            profiler = counter() if profiled else None
            started = time.process_time()
            if profiler is not None:
                profiler.enable()
            await post_all(client, chunk, headers, totals)
            if profiler is not None:
                profiler.disable()
                totals.calls += profiler.calls()
                totals.profiled += len(chunk)
                if args.profile and round_ == 0:
                    profiler.save(args.profile)
            else:
                totals.cpu_seconds += time.process_time() - started
                totals.timed += len(chunk)
            totals.seen.update(tally.seen - before)
            totals.postings += len(chunk)
    return totals


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--postings", type=int, default=40, help="postings per round")
    parser.add_argument("--rounds", type=int, default=4, help="rounds, every other profiled")
    parser.add_argument("--warmup", type=int, default=10, help="postings before counting (≥ 1)")
    parser.add_argument("--profile", help="save the first profiled round's stats here")
    parser.add_argument("--sql", action="store_true", help="print one posting's statements")
    args = parser.parse_args()
    with in_process_gateway() as (database, storage):
        totals = asyncio.run(measure(args))
    n = totals.postings
    print(f"{database.description}; rate limits in {storage}; host {host_line()}")  # noqa: T201
    print(f"{n} postings one at a time, statuses {dict(totals.statuses)}")  # noqa: T201
    per: dict[str, Any] = {
        "Python calls (cProfile)": totals.calls / max(totals.profiled, 1),
        "CPU ms (no profiler)": totals.cpu_seconds * 1000 / max(totals.timed, 1),
        **{kind: count / n for kind, count in sorted(totals.seen.items())},
    }
    for name, value in per.items():
        print(f"  {name:26} {value:10.2f} per posting")  # noqa: T201
    if args.sql:
        print("\n".join(totals.log))  # noqa: T201
    if args.profile:
        stats = pstats.Stats(args.profile, stream=sys.stdout)
        stats.sort_stats("ncalls").print_stats(25)
    return 0 if set(totals.statuses) == {201} else 1


if __name__ == "__main__":
    sys.exit(main())
