"""Benchmark: the event backbone, each figure against a baseline measured in the same run.

Run with `make bench` (or `uv run python -m bench.events [--events N]`). On a throwaway
PostgreSQL database and the NATS server at 127.0.0.1:4222:

- relay throughput: N events recorded through the outbox, then relayed to JetStream
  (acknowledged) by one worker relay, and N more by two cooperating ones; baseline: the
  same messages published straight with nats-py (target ≥ 5,000 events/s);
- commit-to-publish latency with a recorder committing 1,000 events/s (target p99 ≤ 200 ms);
- webhook deliveries to a local receiver; baseline: the same POSTs made with httpx, and
  with aiohttp (the client the delivery uses) (target ≥ 2,000 deliveries/s);
- FastStream's NATS publisher against nats-py (`bench.faststream_publish`, FastStream
  installed for that run only).

It prints the figures, appends them with the command to `bench/RESULTS.md`, and exits 1
when a target is missed or an event is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime

from rich.console import Console

from bench import event_latency, event_relay, event_webhooks
from bench.eventkit import NATS_URL, Tally, delete_streams, new_tag, read_stream, record_many
from bench.harness import (
    Database,
    append_results,
    host_line,
    markdown_table,
    rich_table,
    scratch_directory,
    throwaway_database,
)
from core.db import create_engine, create_sessionmaker

FASTSTREAM = "faststream[nats]==0.7.8"
RELAY_TARGET = 5000.0
LATENCY_TARGET_MS = 200.0
DELIVERY_TARGET = 2000.0
SUBJECTS = 500
COLUMNS = ("measure", "contender", "events", "seconds", "per second", "ratio", "target", "met")


@dataclass
class Findings:
    rows: list[tuple[str, ...]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def rate(
        self,
        measure: str,
        name: str,
        rate: event_relay.Rate,
        base: float,
        target: str,
        met: bool | None,
    ) -> None:
        ratio = f"{rate.per_second / base:.2f}" if base else ""
        verdict = "" if met is None else ("yes" if met else "**no**")
        self.rows.append(
            (
                measure,
                name,
                str(rate.events),
                f"{rate.seconds:.2f}",
                f"{rate.per_second:,.0f}",
                ratio,
                target,
                verdict,
            )
        )


async def _stream_check(prefix: str, tag_count: int, findings: Findings, label: str) -> None:
    tally = Tally()
    await read_stream(NATS_URL, prefix, tally)
    if len(tally.ids) != tag_count or tally.out_of_order():
        findings.problems.append(
            f"{label}: {len(tally.ids)} of {tag_count} events on JetStream, "
            f"{tally.out_of_order()} subjects out of order"
        )


async def _record(url: str, tag: str, count: int) -> float:
    engine = create_engine(url)
    try:
        return await record_many(create_sessionmaker(engine), tag, count, subjects=SUBJECTS)
    finally:
        await engine.dispose()


def throughput(database: Database, count: int, findings: Findings) -> None:
    one, two, raw = new_tag("one"), new_tag("two"), new_tag("raw")
    seconds = asyncio.run(_record(database.url, one, count))
    findings.notes.append(
        f"recording {count:,} events, 1,000 a transaction: {count / seconds:,.0f}/s"
    )
    baseline = event_relay.race(
        event_relay.raw_publisher, [(NATS_URL, raw, one, count, SUBJECTS)], count
    )
    single = event_relay.race(event_relay.relay_replica, [(database.url, NATS_URL, one)], count)
    asyncio.run(_record(database.url, two, count))
    pair = event_relay.race(event_relay.relay_replica, [(database.url, NATS_URL, two)] * 2, count)
    base = baseline.per_second
    findings.rate(
        "relay to JetStream", "nats-py publish_async (baseline)", baseline, base, "", None
    )
    for name, rate in (("one relay", single), ("two relays", pair)):
        met = rate.per_second >= RELAY_TARGET
        findings.rate("relay to JetStream", name, rate, base, f"≥ {RELAY_TARGET:,.0f}/s", met)
        if not met:
            findings.problems.append(f"relay, {name}: {rate.per_second:,.0f} events/s")

    async def check() -> None:
        for prefix, label in ((one, "one relay"), (two, "two relays"), (raw, "baseline")):
            await _stream_check(prefix, count, findings, label)
            await delete_streams(NATS_URL, prefix)

    asyncio.run(check())


def latency(database: Database, rate: int, seconds: float, findings: Findings) -> None:
    prefix = new_tag("lat")
    found = asyncio.run(
        event_latency.measure(database.url, NATS_URL, prefix, rate=rate, seconds=seconds)
    )
    asyncio.run(delete_streams(NATS_URL, prefix))
    met = found.p99_ms <= LATENCY_TARGET_MS and found.received == found.sent
    findings.rows.append(
        (
            "commit to publish",
            f"{rate:,} events/s for {seconds:.0f} s",
            f"{found.received}/{found.sent}",
            "",
            f"p50 {found.p50_ms:.1f} ms, p99 {found.p99_ms:.1f} ms, max {found.max_ms:.0f} ms",
            "",
            f"p99 ≤ {LATENCY_TARGET_MS:.0f} ms",
            "yes" if met else "**no**",
        )
    )
    if not met:
        findings.problems.append(
            f"latency: p99 {found.p99_ms:.1f} ms, {found.received} of {found.sent}"
        )


def deliveries(database: Database, count: int, findings: Findings) -> None:
    async def run() -> event_webhooks.Deliveries:
        engine = create_engine(database.url)
        try:
            return await event_webhooks.measure(create_sessionmaker(engine), new_tag("hook"), count)
        finally:
            await engine.dispose()

    found = asyncio.run(run())
    base = found.direct.per_second
    findings.rate("webhook deliveries", "httpx POSTs (baseline)", found.direct, base, "", None)
    findings.rate("webhook deliveries", "aiohttp POSTs", found.direct_aiohttp, base, "", None)
    clean = found.delivered == count == found.received.posts == found.received.ids
    met = found.gateway.per_second >= DELIVERY_TARGET and clean
    findings.rate(
        "webhook deliveries",
        "delivery loop",
        found.gateway,
        base,
        f"≥ {DELIVERY_TARGET:,.0f}/s",
        met,
    )
    findings.notes.append(
        f"webhooks: {found.delivered} of {count} messages delivered; the receiver counted "
        f"{found.received.posts} POSTs of {found.received.ids} distinct ids from the delivery "
        "loop (each baseline sends every message once more)"
    )
    if not met:
        findings.problems.append(
            f"webhooks: {found.gateway.per_second:,.0f}/s, {found.delivered} of {count} "
            f"delivered, {found.received.posts} POSTs received"
        )


def faststream(count: int, findings: Findings) -> dict[str, object]:
    command = ["uv", "run", "--with", FASTSTREAM, "python", "-m", "bench.faststream_publish"]
    done = subprocess.run(
        [*command, "--url", NATS_URL, "--count", str(count)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        findings.problems.append(f"FastStream comparison did not run: {done.stderr.strip()[-300:]}")
        return {}
    found: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    rates = found["rates"]
    assert isinstance(rates, dict)
    for key, value in rates.items():
        findings.rows.append(
            ("client, acknowledged publishes", key, str(count), "", f"{value:,.0f}", "", "", "")
        )
    return found


def report(
    command: str,
    args: argparse.Namespace,
    findings: Findings,
    database: str,
    versions: dict[str, object],
) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    lines = [
        f"## Event backbone (`bench/events.py`), {when} UTC\n\n",
        f"Command: `{command}` (via `make bench`). {args.events:,} events over {SUBJECTS} subjects "
        f"per relay run; latency at {args.rate:,} events/s for {args.seconds:.0f} s; "
        f"{args.deliveries:,} webhook deliveries to one loopback endpoint. Database: {database}; "
        f"NATS {NATS_URL}. FastStream {versions.get('faststream', '?')} against nats-py "
        f"{versions.get('nats-py', '?')}. Host: {host_line()} (shared with other work).\n\n",
        markdown_table(COLUMNS, findings.rows),
        "\n",
        *(f"- {note}\n" for note in findings.notes),
        *(f"- missed: {problem}\n" for problem in findings.problems),
    ]
    return "".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.events", description=__doc__)
    parser.add_argument("--events", type=int, default=100_000, help="events per relay run")
    parser.add_argument("--rate", type=int, default=1000, help="events/s for the latency run")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the latency run")
    parser.add_argument("--deliveries", type=int, default=20_000, help="webhook messages")
    parser.add_argument("--publishes", type=int, default=5000, help="per FastStream/nats-py round")
    args = parser.parse_args()
    command = "python -m bench.events " + " ".join(sys.argv[1:])
    findings = Findings()
    with scratch_directory() as scratch, throwaway_database(scratch) as database:
        if not database.url.startswith("postgresql"):
            print("bench.events needs PostgreSQL at 127.0.0.1:5432")  # noqa: T201
            return 1
        throughput(database, args.events, findings)
        latency(database, args.rate, args.seconds, findings)
        deliveries(database, args.deliveries, findings)
    versions = faststream(args.publishes, findings)
    console = Console(highlight=False)
    console.print(rich_table("Event backbone", COLUMNS, findings.rows))
    for line in findings.notes + [f"missed: {p}" for p in findings.problems]:
        console.print(line, soft_wrap=True)
    append_results(report(command.strip(), args, findings, database.description, versions))
    return 1 if findings.problems else 0


if __name__ == "__main__":
    sys.exit(main())
