"""Benchmark: emptying the PostgreSQL test database between two tests.

Run with `uv run python -m bench.database_reset [--rounds N]` (not part of `make bench`:
it measures the test suite, not the gateway). On a throwaway migrated database it
seeds the demo estate, as a test's gateway fixture does, then empties the database,
N times each way, alternating: the baseline TRUNCATEs every table in one statement
(what the suite did before), the other is `tests.support.databases.fresh_database`
(DELETE of the tables that have rows). It prints the median of each and their ratio
and appends them with the command to `bench/RESULTS.md`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from sqlalchemy import text

from app.seed import seed_demo_estate
from bench.harness import host_line
from core.db import create_engine, create_sessionmaker
from core.models import Base
from tests.support.databases import fresh_database, postgres_database

RESULTS = Path(__file__).with_name("RESULTS.md")


async def truncate_every_table(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            await connection.execute(text(f"TRUNCATE {tables} CASCADE"))
    finally:
        await engine.dispose()


async def delete_filled_tables(url: str) -> None:
    await fresh_database(url, Path())


async def seed(url: str) -> None:
    engine = create_engine(url)
    try:
        await seed_demo_estate(create_sessionmaker(engine))
    finally:
        await engine.dispose()


async def measure(rounds: int) -> dict[str, list[float]]:
    ways: dict[str, Callable[[str], Awaitable[None]]] = {
        "TRUNCATE every table (baseline)": truncate_every_table,
        "DELETE the filled tables": delete_filled_tables,
    }
    seconds: dict[str, list[float]] = {name: [] for name in ways}
    async with postgres_database() as url:
        for _ in range(rounds):
            for name, empty in ways.items():
                await seed(url)
                started = time.perf_counter()
                await empty(url)
                seconds[name].append(time.perf_counter() - started)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    seconds = asyncio.run(measure(args.rounds))
    medians = {name: statistics.median(values) * 1000 for name, values in seconds.items()}
    baseline, new = medians.values()
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    rows = "".join(f"| {name} | {ms:.0f} |\n" for name, ms in medians.items())
    section = (
        f"\n## Emptying the PostgreSQL test database (`bench/database_reset.py`), {when} UTC\n\n"
        f"Command: `python -m bench.database_reset --rounds {args.rounds}`. The demo estate "
        "seeded, then the database emptied, alternating the two ways; median of "
        f"{args.rounds} rounds each. Host: {host_line()}.\n\n"
        "| way | median ms |\n| --- | --- |\n"
        f"{rows}\n- DELETE / TRUNCATE: {new / baseline:.2f}x\n"
    )
    Console().print(section, markup=False)
    with RESULTS.open("a") as results:
        results.write(section)


if __name__ == "__main__":
    main()
